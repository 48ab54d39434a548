"""TuneOptions: one typed source for tune()'s settings and the CLI's help; a worker never starts workers."""
import pytest

from tiaocan.config import build_config
from tiaocan.tuning import TuneOptions, build_space
from tiaocan.tuning import study as study_mod
from tiaocan.tuning.options import default_of, help_of


def test_keywords_change_options_and_unknown_ones_are_a_type_error():
    opts = TuneOptions.build(TuneOptions(budget="2h"), workers=3)
    assert (opts.budget, opts.workers, opts.metric) == ("2h", 3, "eval_loss")
    with pytest.raises(TypeError, match="bugdet"):
        TuneOptions.build(None, bugdet="5x")


def test_cli_help_and_default_are_the_field_s():
    import typer

    from tiaocan.cli import app

    params = {p.name: p for p in typer.main.get_command(app).commands["tune"].params}
    for name in ("budget", "storage", "pruner", "max_trials", "workers", "output_dir"):
        assert params[name].help == help_of(name), name
    for name in ("budget", "metric", "pruner", "workers", "seed", "output_dir"):
        assert params[name].default == default_of(name), name


def test_a_worker_runs_one_search_and_starts_no_workers(monkeypatch):
    seen = {}
    monkeypatch.setattr(study_mod, "_search", lambda base, opts, **kw: seen.update(opts=opts, **kw))
    base = build_config({"model_name_or_path": "m", "dataset": "d"})
    study_mod.worker(base, TuneOptions(workers=4), build_space(base))
    assert seen["opts"].workers == 1 and seen["write"] is False
