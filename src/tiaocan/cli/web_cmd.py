"""`tiaocan web`: the whole loop in the browser (see tiaocan.web)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ._app import app


@app.command("web")
def web_cmd(
    runs: Path = typer.Option(Path("runs"), "--runs", help="Folder for runs, uploads and exports; the app writes nowhere else."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind. Anything but loopback requires a token."),
    port: int = typer.Option(7860, "--port", help="Port."),
    token: Optional[str] = typer.Option(None, "--token", help="Token for --host 0.0.0.0 (default: $TIAOCAN_WEB_TOKEN or a random one, printed)."),
    open_browser: bool = typer.Option(False, "--open", help="Open a browser tab."),
) -> None:
    """Inspect, plan, train, diagnose, tune and evaluate in the browser (LlamaBoard-style, with the reasons)."""
    from ..errors import UserError

    try:
        import gradio  # noqa: F401
    except ImportError:
        raise UserError("tiaocan web needs Gradio: pip install 'tiaocan[web]' (or pip install gradio)") from None
    from ..web import launch

    launch(runs=runs, host=host, port=port, token=token, open_browser=open_browser)
