"""The `tiaocan` command line: one small module per subcommand, each calling one library function."""
from __future__ import annotations

import os
import sys

from rich.markup import escape

from ._app import app, console, state

# Each import registers one subcommand on `app`.
from . import inspect_cmd  # noqa: E402,F401
from . import train_cmd  # noqa: E402,F401
from . import eval_cmd  # noqa: E402,F401
from . import plan_cmd  # noqa: E402,F401
from . import explain_cmd  # noqa: E402,F401
from . import export_cmd  # noqa: E402,F401
from . import tune_cmd  # noqa: E402,F401
from . import diagnose_cmd  # noqa: E402,F401
from . import report_cmd  # noqa: E402,F401
from . import web_cmd  # noqa: E402,F401


TORCH_COMMANDS = {"train", "tune", "eval"}


def _click_classes() -> tuple[tuple[type, ...], tuple[type, ...]]:
    """(usage-error classes, abort classes). typer >= 0.20 vendors click as typer._click: `click.ClickException`
    never matches what typer raises, so both the vendored and the real classes are listed."""
    import typer

    errors, aborts = [], [typer.Abort]
    try:
        from typer._click import exceptions as vendored

        errors.append(vendored.ClickException)
        aborts.extend(getattr(vendored, n) for n in ("Abort",) if hasattr(vendored, n))
    except ImportError:
        pass
    try:
        import click

        errors.append(click.ClickException)
        aborts.append(click.exceptions.Abort)
    except ImportError:
        pass
    return tuple(errors), tuple(aborts)


def _error(text: str, hint: str = "") -> None:
    # user text (paths, keys, data) may hold "[...]": escaped, rich would cut it out as markup
    console.print(f"[bold red]error:[/] {escape(text)}" + hint, highlight=False, soft_wrap=True)


def main() -> None:
    """Entry point: user errors become one clean message; tracebacks only with --debug.

    Exit codes: 0 done, 1 unexpected error, 2 usage or input error (with the usage line for usage errors),
    3 a diverged training run, 130 interrupted (Ctrl-C).
    """
    from ..errors import UserError

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from ..threads import configure_threads

    args = sys.argv[1:]
    probing = "plan" in args and any(a == "--probe" or a.startswith("--probe=") for a in args)  # it trains
    if TORCH_COMMANDS & set(args) or probing:  # before torch starts its thread pool; others skip the 0.2 s sample
        configure_threads(_workers_from_argv(sys.argv[1:]))
    usage_errors, aborts = _click_classes()
    try:
        rv = app(standalone_mode=False)
    except UserError as e:
        if state.debug:
            raise
        _error(str(e))
        sys.exit(2)
    except KeyboardInterrupt:
        _interrupted()
    except SystemExit:
        raise
    except usage_errors as e:  # missing argument, unknown option, bad value: the usage line, then the problem
        if getattr(e, "ctx", 1) is None and e.exit_code == 2:  # parser errors come without their command's usage
            print(f"Usage: {_usage(sys.argv[1:])}\nTry 'tiaocan {_command(sys.argv[1:]) or ''} --help' for the "
                  "options.\n".replace("  ", " "), file=sys.stderr)
        e.show()
        sys.exit(e.exit_code)
    except aborts:
        _interrupted()
    except Exception as e:  # anything unexpected
        if state.debug:
            raise
        _error(f"{type(e).__name__}: {e}", "\n(re-run with --debug for the traceback)")
        sys.exit(1)
    # standalone_mode=False: click turns Ctrl-C (and typer.Exit) into a returned exit code instead of exiting
    if isinstance(rv, int) and rv:
        if rv == 130 and not state.interrupt_reported:
            _interrupted()
        sys.exit(rv)


def _command(argv: list[str]) -> str | None:
    return next((a for a in argv if not a.startswith("-")), None)


def _usage(argv: list[str]) -> str:
    import typer

    from ._app import app as typer_app

    group = typer.main.get_command(typer_app)
    name = _command(argv)
    cmd = group.commands.get(name) if name and hasattr(group, "commands") else None
    if cmd is None:
        return "tiaocan [OPTIONS] COMMAND [ARGS]..."
    return f"tiaocan {name} " + " ".join(cmd.collect_usage_pieces(cmd.make_context(name, [], resilient_parsing=True)))


def _interrupted() -> None:
    if not state.interrupt_reported:
        console.print("[yellow]interrupted[/]")
    sys.exit(130)


def _workers_from_argv(argv: list[str]) -> int:
    """`tune --workers N` splits the cores between N processes; read before typer parses (and torch loads)."""
    for i, a in enumerate(argv):
        value = a.split("=", 1)[1] if a.startswith("--workers=") else argv[i + 1] if a == "--workers" and i + 1 < len(argv) else None
        if value is not None:
            try:
                return max(1, int(value))
            except ValueError:
                return 1
    return 1


__all__ = ["app", "main"]
