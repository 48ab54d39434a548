"""The shared typer app, console and output helpers used by every subcommand module."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import typer
from rich.markup import escape

from ..console import make_console

console = make_console()


@dataclass
class _State:
    debug: bool = False
    verbose: bool = False
    interrupt_reported: bool = False  # a command already said where it stopped (train: the step)


state = _State()
app = typer.Typer(
    name="tiaocan",
    help="调参 tiaocan — inspect data, plan, train, diagnose, tune and evaluate LLM fine-tuning.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
          verbose: bool = typer.Option(False, "--verbose", "-v", help="Also show the libraries' progress bars "
                                       "(datasets, weight loading) and warnings (FutureWarning).")) -> None:
    """调参 tiaocan — inspect data, plan, train, diagnose, tune and evaluate LLM fine-tuning."""
    from ..verbosity import set_verbose

    state.debug, state.verbose = debug, verbose
    set_verbose(verbose)


JsonOpt = typer.Option(None, "--json", help="Also write the result as JSON to this path.")
# The one language flag of every command with texts in two languages (explanation.resolve_lang reads it).
LangOpt = typer.Option(None, "--lang", help="en | zh (default: from the locale).")


def to_jsonable(result: Any) -> Any:
    if hasattr(result, "model_dump"):
        return result.model_dump(mode="json")
    if hasattr(result, "to_dict"):
        return result.to_dict()
    return result


def write_json(result: Any, path: Optional[Path]) -> None:
    if path is None:
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(to_jsonable(result), indent=2, ensure_ascii=False), encoding="utf-8")
    console.print(f"[dim]wrote {escape(str(path))}[/]")
