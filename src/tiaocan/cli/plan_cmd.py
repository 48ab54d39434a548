"""`tiaocan plan`: a configuration for this model, data and GPU, with a reason for every value."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from rich.markup import escape
from rich.table import Table

from ._app import JsonOpt, LangOpt, app, console, state, write_json
from ._probe_view import PlanCommand, show_probe


def _fmt(v) -> str:
    if isinstance(v, float) and v and (abs(v) < 1e-3):
        return f"{v:.1e}"
    if isinstance(v, list):
        return "[" + ", ".join(str(x) for x in v) + "]"
    return str(v)


def _duration(s: float) -> str:
    return f"{s / 3600:.1f} h" if s >= 3600 else (f"{s / 60:.0f} min" if s >= 60 else f"{s:.0f} s")


def show_plan(p) -> None:
    zh = p.lang == "zh"
    gpu = f"{p.gpu.count} x {p.gpu.name}" if p.gpu else ("未知 GPU" if zh else "GPU unknown")
    console.print(f"[bold]{p.model}[/] ({p.model_source}, {p.memory.total_params / 1e9:.2f}B params) · "
                  f"{p.method} · {gpu} · {p.data.num_examples} examples")
    t = Table(title="tiaocan plan", show_lines=False)
    t.add_column("参数" if zh else "parameter", style="cyan", no_wrap=True)
    t.add_column("值" if zh else "value", style="bold green")
    t.add_column("理由" if zh else "reason", overflow="fold")
    for r in p.recommendations:
        t.add_row(r.key, _fmt(r.value) + (" *" if r.overridden else ""), escape(r.reason))
    console.print(t)
    m = Table(title=("每卡显存" if zh else "memory per device") + f" (peak in {p.memory.peak_phase})")
    m.add_column("term")
    m.add_column("GiB", justify="right")
    for k, v in p.memory.terms.items():
        if v:
            m.add_row(k, f"{v / 2**30:.2f}")
    budget = f" / {p.memory_budget_bytes / 2**30:.0f}" if p.memory_budget_bytes else ""
    m.add_row("[bold]total[/]", f"[bold]{p.memory.total / 2**30:.2f}{budget}[/]")
    console.print(m)
    s = p.steps
    split = f"{s.train_examples} train" + (f" + {s.eval_examples} held out" if s.eval_examples else "")
    line = (f"{split} · effective batch {s.effective_batch} · {s.steps_per_epoch} steps/epoch · {s.total_steps} steps"
            + (f" (warmup {s.warmup_steps})" if s.warmup_steps else "")
            + f" · {s.tokens_per_epoch:,} tokens/epoch · {s.total_tokens:,} tokens")
    if s.est_seconds is not None:
        line += f" · ~{_duration(s.est_seconds)} ({s.est_basis})"
    console.print(escape(line))
    for n in p.notes:
        console.print(f"[yellow]note:[/] {escape(n)}")


@app.command("plan", cls=PlanCommand)
def plan_cmd(
    model: str = typer.Option("smollm2-135m", "--model", "-m", help="Local model dir, hub id (built-in shapes work offline) or smollm2-135m."),
    data: str = typer.Option(..., "--data", "-d", help="Data file or dataset name (inspected for lengths and size)."),
    gpu: Optional[str] = typer.Option(None, "--gpu", help="GPU name or memory: H100-80GB, A100-40GB, 4090, 2x4090, 24GB (default: detect)."),
    method: str = typer.Option("lora", "--method", help="lora | qlora | full."),
    overrides: Optional[List[str]] = typer.Option(None, "--set", help="key=value to fix a value (repeatable); dependents are re-derived."),
    loraplus: bool = typer.Option(False, "--loraplus", help="Use LoRA+ (ratio 16, learning rate adjusted)."),
    lang: Optional[str] = LangOpt,
    dataset_dir: str = typer.Option("data", "--dataset-dir", help="Folder with dataset_info.json (LLaMA-Factory)."),
    formatting: str = typer.Option("auto", "--format", help="auto | alpaca | sharegpt | openai."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write the plan as a YAML that `tiaocan train` runs as is."),
    probe: Optional[str] = typer.Option(
        None, "--probe", metavar="[BUDGET]",
        help="Measure instead of guessing: short runs on this data and machine pick the learning rate (5 rates x2 apart "
             "around the plan's, scored on held-out loss) and the gradient noise scale advises the batch (and, where "
             "the run is too short for those runs, corrects the rule's learning rate), within BUDGET x the full run's "
             "training tokens (--probe alone: 0.15; at most 0.3)."),
    json_path: Optional[Path] = JsonOpt,
) -> None:
    """What should I set for this model, this data and this GPU, and why?

    With --probe the plan also measures, on your data and hardware:
    - the learning rate, from a few short training runs scored on held-out loss
      (on a run too short for them: the rule's, corrected by the noise scale);
    - the effective batch, advised by the gradient noise scale (B_simple).
    The plan shows what it measured, and its YAML carries the measured values:
    `tiaocan tune --config plan.yaml` starts from them.
    """
    from ..planning import make_plan
    from ._checks import FORMATS, check_choice, check_output, data_inputs

    if probe is not None:
        from ..probing import parse_budget

        probe = parse_budget(probe)  # a usage error before any data is read
    check_choice("--format", formatting, FORMATS)
    inputs = data_inputs(data, dataset_dir=dataset_dir)
    if Path(model).expanduser().exists():
        inputs.append(Path(model))
    check_output("--output", output, inputs)
    check_output("--json", json_path, inputs)
    if output is not None and json_path is not None and Path(output).resolve() == Path(json_path).resolve():
        from ..errors import UserError

        raise UserError(f"--output and --json are the same file ({output}); give them different paths")
    try:
        p = make_plan(model, data, gpu=gpu, method=method, overrides=overrides, lang=lang, loraplus=loraplus,
                      dataset_dir=dataset_dir, formatting=formatting, probe=probe)
    except KeyboardInterrupt:
        if probe is not None:
            console.print("[yellow]interrupted:[/] the probe stopped; its runs were removed and nothing was written")
            state.interrupt_reported = True
        raise
    show_plan(p)
    show_probe(p)
    if output is not None:
        console.print(f"[dim]wrote {p.save_yaml(output)} — run it with: tiaocan train {output}[/]")
    write_json(p, json_path)
