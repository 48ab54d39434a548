"""`tiaocan export`: a plan / config as LLaMA-Factory, Axolotl or Hugging Face configs."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ._app import JsonOpt, app, console, write_json


@app.command("export")
def export_cmd(
    config: Path = typer.Argument(..., help="A tiaocan plan / TrainConfig YAML (LLaMA-Factory keys)."),
    to: str = typer.Option(..., "--to", help="llamafactory | axolotl | hf."),
    out_dir: Path = typer.Option(Path("."), "--output", "-o", help="Folder to write the files into."),
    json_path: Optional[Path] = JsonOpt,
) -> None:
    """Write the config in the key names LLaMA-Factory, Axolotl or HF TrainingArguments read."""
    from ..exporting import export_config
    from ._checks import check_choice, check_output

    check_choice("--to", to, ("llamafactory", "axolotl", "hf"))
    check_output("--output", out_dir, [config], folder=True)
    check_output("--json", json_path, [config])
    res = export_config(config, to, out_dir)
    for f in res.files:
        console.print(f"wrote {f}")
    for k, why in res.dropped.items():
        console.print(f"[yellow]not exported:[/] {k} — {why}")
    for n in res.notes:
        console.print(f"[yellow]note:[/] {n}")
    write_json(res, json_path)
