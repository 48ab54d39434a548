"""`tiaocan tune`: budgeted, early-stopping hyperparameter search seeded by the plan (see tiaocan.tune)."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from ._app import JsonOpt, app, console, write_json


@app.command("tune")
def tune_cmd(
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Model: local dir, hub id or smollm2-135m."),
    data: Optional[str] = typer.Option(None, "--data", "-d", help="Training data file or dataset name(s)."),
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="Start from this YAML instead of the plan."),
    budget: str = typer.Option("5x", "--budget", "-b",
                               help="Compute to spend: wall time (2h, 90m), tokens (2M-tokens) or full runs (5x). "
                                    "Shared by all workers of a study."),
    gpu: Optional[str] = typer.Option(None, "--gpu", help="GPU for the plan (H100-80GB, 24GB, 2x4090); default: detected."),
    storage: Optional[str] = typer.Option(None, "--storage",
                                          help="Study database: sqlite:///tune.db (default: OUTDIR/tune.db) or "
                                               "postgresql://user:pw@host/db to share a study between machines."),
    study: Optional[str] = typer.Option(None, "--study", help="Study name; re-running with the same name continues it."),
    metric: str = typer.Option("eval_loss", "--metric",
                               help="eval_loss (default) or a `tiaocan eval` score: fact_accuracy, pass_rate, chrf, rouge_l."),
    eval_data: Optional[str] = typer.Option(None, "--eval-data", help="Test file for --metric other than eval_loss."),
    space: Optional[List[str]] = typer.Option(None, "--space",
                                              help="Override a search dimension: learning_rate=1e-5:1e-3, lora_rank=8,16,32, or num_train_epochs=fixed."),
    overrides: Optional[List[str]] = typer.Option(None, "--set", help="Fix a key in every trial: key=value."),
    pruner: str = typer.Option("sh", "--pruner",
                               help="sh: successive halving over complete shorter runs (default); asha or hyperband: "
                                    "Optuna's pruners, judging full runs part-way; none."),
    max_trials: Optional[int] = typer.Option(None, "--max-trials", help="Stop after this many trials (budget still applies)."),
    workers: int = typer.Option(1, "--workers", help="Parallel worker processes on this machine (one per GPU)."),
    lr_range_test: bool = typer.Option(False, "--lr-range-test", help="First bound the learning rate from above by a short range test."),
    final: bool = typer.Option(False, "--final", help="Retrain the best configuration to full length at the end."),
    output_dir: Path = typer.Option(Path("runs/tune"), "--output", "-o", help="Where trials, YAMLs and the report go."),
    seed: int = typer.Option(0, "--seed", help="Sampler seed."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No per-trial progress lines."),
    json_path: Optional[Path] = JsonOpt,
) -> None:
    """Search for better hyperparameters within a budget (Optuna: plan as trial 0, TPE, successive halving)."""
    from ..config import parse_overrides
    from ..tuning import parse_space_overrides, tune
    from ._checks import check_output, data_inputs

    inputs = data_inputs(data, eval_data) + ([Path(config)] if config else [])
    check_output("--output", output_dir, inputs, folder=True)
    check_output("--json", json_path, inputs)
    result = tune(model, data, config=config, budget=budget, gpu=gpu, storage=storage, study=study, metric=metric,
                  output_dir=output_dir, final=final, space=parse_space_overrides(space),
                  overrides=parse_overrides(overrides), pruner=pruner, max_trials=max_trials,
                  lr_range_test=lr_range_test, eval_data=eval_data, seed=seed, quiet=quiet, workers=workers)
    console.print(f"[bold]tune[/] {result.study_name}: {result.n_trials} trials ({result.n_complete} completed, "
                  f"{result.n_pruned} pruned, {result.n_failed} failed), {result.compute_full_runs:.2f} full runs of compute")
    if result.best_value is not None:
        gain = f", {100 * result.gain_over_plan:+.2f} % vs the plan ({result.plan_value:.4f})" \
            if result.gain_over_plan is not None else ""
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
