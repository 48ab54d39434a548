"""Quiet by default: library bars and FutureWarnings are off unless `tiaocan --verbose`."""
import warnings

import pytest

from tiaocan import verbosity


@pytest.fixture(autouse=True)
def _restore(monkeypatch):
    for k in verbosity._ENV:
        monkeypatch.delenv(k, raising=False)
    yield
    monkeypatch.setattr(verbosity, "_verbose", False)
    monkeypatch.setattr(verbosity, "_quiet", False)
    verbosity.library_bars(True)


def test_quiet_by_default_and_verbose_flag(monkeypatch):
    from typer.testing import CliRunner

    from tiaocan.cli import app
    from tiaocan.cli._app import state
    from tiaocan.data.load import quiet_progress
    import datasets

    r = CliRunner().invoke(app, ["explain", "lora_rank"])
    assert r.exit_code == 0 and not state.verbose and verbosity.quiet_requested()
    import os

    assert os.environ["HF_DATASETS_DISABLE_PROGRESS_BARS"] == "1" and os.environ["TRANSFORMERS_VERBOSITY"] == "error"
    quiet_progress(False)  # a large data set asks for bars: the command line's quiet wins
    assert not datasets.is_progress_bar_enabled()
    with warnings.catch_warnings(record=True) as caught:
        verbosity.set_verbose(False)
        warnings.warn("old API", FutureWarning)
    assert not caught
    r = CliRunner().invoke(app, ["--verbose", "explain", "lora_rank"])
    assert r.exit_code == 0 and state.verbose and verbosity.is_verbose()
    quiet_progress(False)
    assert datasets.is_progress_bar_enabled()
