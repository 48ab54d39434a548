"""The `tiaocan` command line: one small module per subcommand, each calling one library function."""
from __future__ import annotations

import os
import sys

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


def main() -> None:
    """Entry point: user errors become one clean message; tracebacks only with --debug."""
    from ..errors import UserError

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        app(standalone_mode=False)
    except UserError as e:
        if state.debug:
            raise
        console.print(f"[bold red]error:[/] {e}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        console.print("[yellow]interrupted[/]")
        sys.exit(130)
    except SystemExit:
        raise
    except Exception as e:  # click's own usage errors and anything unexpected
        import click

        if isinstance(e, click.exceptions.Abort):
            sys.exit(1)
        if isinstance(e, click.ClickException):
            e.show()
            sys.exit(e.exit_code)
        if state.debug:
            raise
        console.print(f"[bold red]error:[/] {type(e).__name__}: {e}\n(re-run with --debug for the traceback)", highlight=False)
        sys.exit(1)


__all__ = ["app", "main"]
