"""`tiaocan train`: run one configuration (a LLaMA-Factory-style YAML and/or key=value overrides)."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from ._app import JsonOpt, app, console, write_json


def split_args(items: list[str]) -> tuple[str | None, list[str]]:
    """`CONFIG.yaml key=value ...` or just `key=value ...`: the config is the first item without '='."""
    config, overrides = None, []
    for i, item in enumerate(items):
        if "=" not in item and i == 0:
            config = item
        else:
            overrides.append(item)
    return config, overrides


def keys_epilog() -> str:
    """Every TrainConfig key with its field description (config.key_help: the one source, also for explain)."""
    from rich.markup import escape  # typer renders help as rich markup: "[0.7, 1.4]" would vanish as a tag

    from ..config import key_help

    lines = [escape(f"{k} (default {d!r}): {h}" if d is not None else f"{k}: {h}") for k, d, h in key_help()]
    # click re-wraps epilog paragraphs; one key per paragraph keeps each on its own line(s)
    return "Config keys (YAML or KEY=VALUE; `tiaocan explain KEY` says more):\n\n" + "\n\n".join(lines)


@app.command("train", context_settings={"allow_extra_args": False}, epilog=keys_epilog())
def train_cmd(
    args: Optional[List[str]] = typer.Argument(None, metavar="[CONFIG.yaml] [KEY=VALUE]...",
                                               help="Config YAML (LLaMA-Factory keys) and/or key=value overrides, "
                                                    "e.g. dataset=data.jsonl learning_rate=5e-5."),
    resume: bool = typer.Option(False, "--resume", help="Continue from the last checkpoint in output_dir."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace a previous run in output_dir."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress output."),
    json_path: Optional[Path] = JsonOpt,
) -> None:
    """Train a configuration with loss-driven stopping, a divergence guard and LLaMA-Factory-format logs."""
    from ..config import load_config
    from ..errors import TrainingInterrupted, UserError
    from ..training import train

    config, overrides = split_args(list(args or []))
    if config is not None and Path(config).suffix.lower() in (".json", ".jsonl", ".ndjson", ".csv", ".parquet"):
        raise UserError(f"{config} looks like a data file, not a config YAML: train on it with "
                        f"`tiaocan train dataset={config}` (plus model_name_or_path=… or a plan YAML first)")
    if config is not None and not Path(config).is_file():
        raise UserError(f"config file not found: {config} (give a YAML file, or key=value overrides only)")
    cfg = load_config(config, overrides)
    from ._checks import check_output, data_inputs

    check_output("--json", json_path, data_inputs(cfg.dataset, cfg.eval_dataset, dataset_dir=cfg.dataset_dir)
                 + ([Path(config)] if config else []))
    if resume and overwrite:
        raise UserError("--resume and --overwrite contradict each other: --resume continues the run in "
                        f"{cfg.output_dir}, --overwrite deletes it. Pass one.")
    try:
        summary = train(cfg, resume=resume, overwrite=overwrite, quiet=quiet)
    except KeyboardInterrupt as e:  # Ctrl-C: say where it stopped, exit 130 so `tiaocan train … && next` stops
        from rich.markup import escape

        from ._app import state

        console.print(f"[yellow]{escape(str(e)) if isinstance(e, TrainingInterrupted) else 'interrupted'}[/]")
        state.interrupt_reported = True
        raise typer.Exit(130) from None
    write_json(summary, json_path)
    if summary.stop_reason == "diverged":
        import sys

        console.print("[red]the run diverged: see the message above for what to change[/]")
        sys.exit(3)  # scripts can tell a diverged run from a finished one
