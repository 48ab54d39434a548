"""`tiaocan eval`: which answers does the tuned model still get wrong, and which data should I add?"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape
from rich.table import Table

from ._app import JsonOpt, app, console, write_json


@app.command("eval")
def eval_cmd(
    target: str = typer.Argument(..., help="A `tiaocan train` run dir (adapter or full model), an adapter dir, a model dir or name."),
    test: str = typer.Option(..., "--test", "-t", help="Test set file (or dataset name in --dataset-dir) with reference answers."),
    base: bool = typer.Option(False, "--base", help="Also evaluate the base model and show the gain side by side."),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Base model (default: the one recorded in the run)."),
    train: Optional[str] = typer.Option(None, "--train", help="Training data for topic counts (default: the run's dataset)."),
    dataset_dir: Optional[str] = typer.Option(None, "--dataset-dir", help="Folder with dataset_info.json (default: the run's)."),
    max_samples: Optional[int] = typer.Option(None, "--max-samples", min=1, help="Evaluate a random subset of this many rows."),
    max_new_tokens: Optional[int] = typer.Option(None, "--max-new-tokens", min=1, help="Generation length (default: 1.5x the longest reference + 16)."),
    batch_size: int = typer.Option(16, "--batch-size", min=1, help="Prompts generated together."),
    min_similarity: float = typer.Option(0.5, "--min-similarity", min=0.0, max=1.0, help="chrF needed to pass rows that have no must_contain facts."),
    show: int = typer.Option(5, "--show", min=0, help="Failures printed per category (all are in --json / --html)."),
    html: Optional[Path] = typer.Option(None, "--html", help="Also write an HTML report to this path."),
    json_path: Optional[Path] = JsonOpt,
) -> None:
    """Held-out loss, greedy answers checked for facts, failures by topic, and the data to add."""
    from ..evaluation import evaluate
    from ._checks import check_output, data_inputs, run_inputs

    inputs = run_inputs(target) + data_inputs(test, train, dataset_dir=dataset_dir)
    for flag, path in (("--json", json_path), ("--html", html)):
        check_output(flag, path, inputs)
    if not data_inputs(test, dataset_dir=dataset_dir or "data"):
        from ..data.load import split_spec
        from ..textio import check_readable

        for part in split_spec(test):  # a missing test file is said now, not after the model has loaded
            if Path(part).suffix.lower() in (".json", ".jsonl", ".ndjson", ".csv", ".parquet"):
                check_readable(part, "--test file")
    report = evaluate(target, test, base=base, model=model, train=train, dataset_dir=dataset_dir,
                      max_samples=max_samples, max_new_tokens=max_new_tokens, batch_size=batch_size,
                      min_similarity=min_similarity)
    show_report(report, show)
    write_json(report, json_path)
    if html is not None:
        from ..evaluation.html import write_html

        console.print(f"[dim]wrote {write_html(report, html)}[/]")


def _pct(v: Optional[float]) -> str:
    return "–" if v is None else f"{v:.0%}"


def _f(v: Optional[float], fmt: str = ".3f") -> str:
    return "–" if v is None else format(v, fmt)


def show_report(report, show: int = 5) -> None:
    models = [report.tuned] + ([report.base] if report.base else [])
    t = Table(title=f"{report.target} on {report.test_file} ({report.n_test} rows)")
    for col in ("model", "loss", "ppl", "passed", "fact acc.", "exact", "chrF", "ROUGE-L", "keywords", "ex/s"):
        t.add_column(col, justify="right" if col != "model" else "left")
    for m in models:
        s = m.scores
        t.add_row("base: " + m.model if m is report.base else m.model, _f(m.loss), _f(m.perplexity, ".2f"),
                  f"{s.passed}/{s.n_judged}" if s.n_judged else "–", _pct(s.fact_accuracy), _pct(s.exact_match), _f(s.chrf, ".2f"),
                  _f(s.rouge_l, ".2f"), _pct(s.keyword_coverage), _f(m.examples_per_second, ".2f"))
    if report.base:
        g = report.gain
        t.add_row("[bold]gain[/]", _f(g.get("loss"), "+.3f"), "", "", _signed_pct(g.get("fact_accuracy")),
                  _signed_pct(g.get("exact_match")), _f(g.get("chrf"), "+.2f"), _f(g.get("rouge_l"), "+.2f"), "", "")
    console.print(t)
    if report.tuned.categories:
        base = {c.category: c.scores for c in (report.base.categories if report.base else [])}
        c = Table(title="Per category")
        for col in ("category", "train rows", "test rows", "passed", "fact acc.") + (("base fact acc.",) if base else ()):
            c.add_column(col, justify="right" if col != "category" else "left")
        for cat in report.tuned.categories:
            s = cat.scores
            style = "red" if s.pass_rate is not None and s.pass_rate < 0.5 else None
            row = [cat.category, "–" if cat.train_examples is None else str(cat.train_examples), str(s.n),
                   f"{s.passed}/{s.n_judged}" if s.n_judged else "–", _pct(s.fact_accuracy)]
            if base:
                row.append(_pct(base[cat.category].fact_accuracy) if cat.category in base else "–")
            c.add_row(*row, style=style)
        console.print(c)
    _show_failures(report, show)
    if report.advice:
        console.print("[bold]Data advice[/]")
        for a in report.advice:
            console.print(f"  • {a.message}")
    for n in report.notes:
        console.print(f"[yellow]note:[/] {n}")


def _signed_pct(v: Optional[float]) -> str:
    return "–" if v is None else f"{v * 100:+.0f} pts"


def _show_unjudged(report, show: int) -> None:
    """A test set without answers or facts: nothing can fail, so show what the model said instead."""
    console.print("[yellow]No test row has a reference answer or must_contain facts: nothing was judged "
                  "(add an output / assistant answer or must_contain to score them).[/]")
    rows = report.tuned.examples[:max(show, 1) * 4]
    g = Table(title=f"Generated answers ({len(rows)} of {len(report.tuned.examples)})", show_lines=True)
    for col in ("#", "category", "prompt", "got"):
        g.add_column(col, overflow="fold")
    for e in rows:
        g.add_row(str(e.index), e.category or "", escape(e.prompt), escape(e.got))
    console.print(g)


def _show_failures(report, show: int) -> None:
    if report.tuned.scores.n_judged == 0:
        _show_unjudged(report, show)
        return
    failures = report.failures()
    if not failures or show == 0:
        if not failures:
            console.print("[green]No failed examples.[/]")
        return
    groups: dict[str, list] = {}
    for e in failures:
        groups.setdefault(e.category or "(none)", []).append(e)
    f = Table(title=f"Failures ({len(failures)}), up to {show} per category", show_lines=True)
    for col in ("category", "#", "prompt", "expected", "got", "failed check"):
        f.add_column(col, overflow="fold")
    for cat, rows in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        for e in rows[:show]:
            f.add_row(escape(cat), str(e.index), escape(e.prompt), escape(e.expected or ""), escape(e.got),
                      "; ".join(e.checks.failed_checks))
    console.print(f)
