"""Quiet by default: library progress bars (datasets' map bars, weight loading) and FutureWarnings are noise
around tiaocan's own progress lines; `tiaocan --verbose` shows them.

Environment variables are set before the libraries import (they read them once); libraries already imported
are switched at runtime too, so calling `set_verbose` late still works.
"""
from __future__ import annotations

import os
import sys
import warnings

_verbose = False
_quiet = False  # the command line asked for quiet output (library callers keep the libraries' defaults)
_ENV = {"HF_DATASETS_DISABLE_PROGRESS_BARS": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1",
        "TRANSFORMERS_VERBOSITY": "error", "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1"}


def is_verbose() -> bool:
    return _verbose


def quiet_requested() -> bool:
    return _quiet


def set_verbose(verbose: bool) -> None:
    global _verbose, _quiet
    _verbose, _quiet = bool(verbose), not verbose
    if _verbose:
        return
    for k, v in _ENV.items():
        os.environ.setdefault(k, v)  # a user's own setting wins
    warnings.filterwarnings("ignore", category=FutureWarning)
    library_bars(False)


def library_bars(on: bool) -> None:
    """Switch datasets' and transformers' progress bars, for the libraries already imported (no import here:
    importing datasets costs a second)."""
    if "datasets" in sys.modules:
        from datasets.utils import logging as ds_logging

        (ds_logging.enable_progress_bar if on else ds_logging.disable_progress_bar)()
    if "transformers" in sys.modules:
        from transformers.utils import logging as hf_logging

        (hf_logging.enable_progress_bar if on else hf_logging.disable_progress_bar)()
        if not on and not _verbose:
            hf_logging.set_verbosity_error()
