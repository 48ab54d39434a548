"""`tiaocan report`: a self-contained HTML page (plus PNGs) of one or more runs' curves and findings."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape

from ._app import app, console
from .diagnose_cmd import parse_band


@app.command("report")
def report_cmd(
    runs: list[Path] = typer.Argument(..., help="Run directories (output_dir) or log files; several are overlaid."),
    out: Path = typer.Option(Path("report.html"), "--out", "-o", help="HTML file to write; PNGs go to <name>_files/ beside it."),
    band: Optional[str] = typer.Option(None, "--band", help="Target train-loss band low,high (default 0.7,1.4)."),
) -> None:
    """Write an HTML report with loss/eval/lr curves, the loss band and the findings pinned on their steps."""
    from ..diagnosis.report import write_report
    from ._checks import check_output, run_inputs

    check_output("--out", out, run_inputs(*runs))
    skipped: list[str] = []
    path = write_report(runs, out, band=parse_band(band), skipped=skipped)
    for s in skipped:
        console.print(f"[yellow]note:[/] {escape(s)}")
    console.print(f"wrote {path} (figures in {path.parent / (path.stem + '_files')})")
