"""`tiaocan tune`: budgeted, early-stopping hyperparameter search seeded by the plan (see tiaocan.tune)."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from ..tuning.options import default_of, help_of
from ._app import JsonOpt, app, console, write_json


@app.command("tune")
def tune_cmd(
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Model: local dir, hub id or smollm2-135m."),
    data: Optional[str] = typer.Option(None, "--data", "-d", help="Training data file or dataset name(s)."),
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="Start from this YAML instead of the plan."),
    # the rest are TuneOptions fields: help and default are the field's own (tuning/options.py)
    budget: str = typer.Option(default_of("budget"), "--budget", "-b", help=help_of("budget")),
    gpu: Optional[str] = typer.Option(None, "--gpu", help=help_of("gpu")),
    storage: Optional[str] = typer.Option(None, "--storage", help=help_of("storage")),
    study: Optional[str] = typer.Option(None, "--study", help=help_of("study")),
    metric: str = typer.Option(default_of("metric"), "--metric", help=help_of("metric")),
    eval_data: Optional[str] = typer.Option(None, "--eval-data", help=help_of("eval_data")),
    space: Optional[List[str]] = typer.Option(None, "--space", help=help_of("space")),
    overrides: Optional[List[str]] = typer.Option(None, "--set", help=help_of("overrides")),
    pruner: str = typer.Option(default_of("pruner"), "--pruner", help=help_of("pruner")),
    max_trials: Optional[int] = typer.Option(None, "--max-trials", help=help_of("max_trials")),
    workers: int = typer.Option(default_of("workers"), "--workers", help=help_of("workers")),
    lr_range_test: bool = typer.Option(default_of("lr_range_test"), "--lr-range-test", help=help_of("lr_range_test")),
    final: bool = typer.Option(default_of("final"), "--final", help=help_of("final")),
    output_dir: Path = typer.Option(default_of("output_dir"), "--output", "-o", help=help_of("output_dir")),
    seed: int = typer.Option(default_of("seed"), "--seed", help=help_of("seed")),
    quiet: bool = typer.Option(default_of("quiet"), "--quiet", "-q", help=help_of("quiet")),
    json_path: Optional[Path] = JsonOpt,
) -> None:
    """Search for better hyperparameters within a budget (Optuna: plan as trial 0, TPE, successive halving)."""
    from ..config import parse_overrides
    from ..tuning import TuneOptions, parse_space_overrides, tune
    from ._checks import check_output, data_inputs

    inputs = data_inputs(data, eval_data) + ([Path(config)] if config else [])
    check_output("--output", output_dir, inputs, folder=True)
    check_output("--json", json_path, inputs)
    opts = TuneOptions(budget=budget, gpu=gpu, storage=storage, study=study, metric=metric, eval_data=eval_data,
                       space=parse_space_overrides(space), overrides=parse_overrides(overrides), pruner=pruner,
                       max_trials=max_trials, workers=workers, lr_range_test=lr_range_test, final=final,
                       output_dir=output_dir, seed=seed, quiet=quiet)
    result = tune(model, data, config=config, options=opts)
    console.print(f"[bold]tune[/] {result.study_name}: {result.n_trials} trials ({result.n_complete} completed, "
                  f"{result.n_pruned} pruned, {result.n_failed} failed), {result.compute_full_runs:.2f} full runs of compute")
    if result.best_value is not None:
        c = result.plan_compared_at
        gain = (f", {100 * result.gain_over_plan:+.2f} % vs the plan ({result.plan_value:.4f})"
                if result.gain_over_plan is not None else
                f", {100 * c['gain']:+.2f} % vs the plan at the rung where it stopped ({c['examples']} examples)"
                if c else "")
        console.print(f"  best {result.metric} [bold green]{result.best_value:.4f}[/] (trial {result.best_trial}){gain}")
        for k, v in result.best_params.items():
            console.print(f"    {k:<20} {v:.4g}" if isinstance(v, float) else f"    {k:<20} {v}")
    for key, label in (("best_config", "tiaocan YAML"), ("best_llamafactory", "LLaMA-Factory YAML"),
                       ("report", "report"), ("final_run", "final run")):
        if key in result.outputs:
            console.print(f"  {label:<19} {result.outputs[key]}")
    console.print(f"  [dim]browse the study: optuna-dashboard {result.storage}[/]")
    for note in result.notes:
        console.print(f"  [yellow]note:[/] {note}")
    write_json(result, json_path)
