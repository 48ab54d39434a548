"""The rich console every command prints through."""
from __future__ import annotations

import os
import sys

from rich.console import Console


def make_console() -> Console:
    """Pipes and CI logs get 120 columns instead of rich's 80, so tables and plan lines do not wrap."""
    return Console(highlight=False, width=None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 120)
