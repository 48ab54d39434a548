"""`tiaocan explain`: what each training parameter means, in English or Chinese."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ._app import JsonOpt, LangOpt, app, console, write_json

HEADINGS = {"en": ("Meaning", "Interactions", "Signs it is wrong", "What tiaocan does"),
            "zh": ("含义", "相互影响", "设错的迹象", "tiaocan 的做法")}


@app.command("explain")
def explain_cmd(
    param: Optional[str] = typer.Argument(None, help="Parameter name (e.g. learning_rate); all when omitted."),
    lang: Optional[str] = LangOpt,
    json_path: Optional[Path] = JsonOpt,
) -> None:
    """What a training parameter means, how it interacts, and the signs it is set wrong."""
    from ..explanation import SECTIONS, explain

    items = explain(param, lang)
    for e in items:
        console.print(f"\n[bold cyan]{e.title}[/]")
        for head, sec in zip(HEADINGS[e.lang], SECTIONS):
            if getattr(e, sec):  # keys without a full entry have only their config description (the meaning)
                console.print(f"[bold]{head}:[/] {getattr(e, sec)}")
    write_json([e.model_dump() for e in items], json_path)
