"""`tiaocan diagnose`: read run logs (tiaocan / LLaMA-Factory / HF), say what is wrong and what to change."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape
from rich.syntax import Syntax
from rich.table import Table

from ._app import JsonOpt, LangOpt, app, console, write_json

SEV_STYLE = {"critical": "bold red", "warning": "yellow", "info": "cyan"}


def parse_band(band: Optional[str]):
    """'0.7,1.4' -> (0.7, 1.4) by the config's own parser; errors name the flag."""
    from ..config import parse_band as parse
    from ..errors import UserError

    try:
        return parse(band)
    except ValueError as e:
        raise UserError(f"--band {e}") from None


@app.command("diagnose")
def diagnose_cmd(
    runs: list[Path] = typer.Argument(..., help="Run directories (output_dir) or log files: trainer_log.jsonl / trainer_state.json."),
    band: Optional[str] = typer.Option(None, "--band", help="Target train-loss band low,high (default: the run's stop_loss_band or 0.7,1.4)."),
    no_data: bool = typer.Option(False, "--no-data", help="Skip the truncation check (it re-reads the dataset named in the run's config)."),
    lang: Optional[str] = LangOpt,
    zh: bool = typer.Option(False, "--zh", hidden=True, help="Old spelling of --lang zh."),
    json_path: Optional[Path] = JsonOpt,
) -> None:
    """What went wrong in these training runs, with evidence, and what to change next."""
    from ..diagnosis import diagnose
    from ..explanation import resolve_lang
    from ..diagnosis.suggest import change_line, compact, to_yaml
    from ._checks import check_output, run_inputs

    check_output("--json", json_path, run_inputs(*runs))
    zh = resolve_lang("zh" if zh else lang) == "zh"
    result = diagnose(runs, band=parse_band(band), check_data=not no_data)
    for d in result.runs:
        head = "[bold green]healthy[/]" if d.healthy else "[bold red]needs changes[/]"
        fl = f"{d.final_loss:.4f}" if d.final_loss is not None else "–"
        be = f" · best eval loss {d.best_eval_loss:.3g}" if d.best_eval_loss is not None else ""
        fin = "" if d.finished is not False else " · [yellow]not finished[/]"
        if zh:
            head = "[bold green]健康[/]" if d.healthy else "[bold red]需要修改[/]"
            be = f" · 最佳验证损失 {d.best_eval_loss:.3g}" if d.best_eval_loss is not None else ""
            fin = "" if d.finished is not False else " · [yellow]未完成[/]"
            console.print(f"\n[bold]{d.name}[/] ({d.source}) · {head} · 最后一步 {d.last_step} · 最终训练损失 {fl}{be}{fin}")
        else:
            console.print(f"\n[bold]{d.name}[/] ({d.source}) · {head} · last step {d.last_step} · final train loss {fl}{be}{fin}")
        if d.findings:
            t = Table(show_lines=True)
            heads = ("级别", "发现", "证据", "建议修改") if zh else ("severity", "finding", "evidence", "change")
            for col, kw in zip(heads, ({}, {"ratio": 3}, {"ratio": 4}, {"ratio": 2})):
                # fold, not rich's default ellipsis: Chinese has no spaces to wrap at, so a cell would end in "…"
                t.add_column(col, overflow="fold", **kw)
            for f in d.findings:
                title = f"{f.title_zh or f.title}\n[dim]{f.explanation_zh}[/]" if zh else f"{f.title}\n[dim]{f.explanation}[/]"
                evidence = f.evidence_zh or f.evidence if zh else f.evidence
                t.add_row(f"[{SEV_STYLE[f.severity]}]{f.severity}[/]", title, "\n".join(evidence),
                          "\n".join(change_line(c) for c in f.changes) or "–")
            console.print(t)
        else:
            console.print("[green]No problems found: the curves look healthy.[/] 未发现问题。")
        for n in d.notes:
            console.print(f"[dim]note: {n}[/]")
        if d.changes:
            note = ", defaults left out; --json has it whole" if d.source == "tiaocan" else ""
            console.print("[bold]建议的下一版配置[/]（修改过的键带注释）：" if zh else
                          f"[bold]Suggested next config[/] (changed keys commented{note}):")
            shown = compact(d.suggested_config, d.changes, d.source)
            console.print(Syntax(to_yaml(shown, d.changes), "yaml", theme="ansi_dark", background_color="default"))
    for s in result.skipped:
        console.print(f"[yellow]note:[/] {escape(s)}")
    write_json(result, json_path)
