"""`tiaocan tune` from the command line, starting from the planner's advice (the plan's config is trial 0)."""
import json

from typer.testing import CliRunner

from tiaocan.cli import app

from tune_helpers import SUPPORT


def test_cli_plans_then_tunes_with_the_plan_as_trial_zero(tiny_model_dir, tmp_path):
    from tiaocan.planning import make_plan

    out = tmp_path / "tune"
    args = ["tune", "--model", str(tiny_model_dir), "--data", str(SUPPORT), "--budget", "1.5x", "--max-trials", "1",
            "--set", "max_samples=24", "--set", "val_size=4", "--set", "num_train_epochs=1", "--set", "cutoff_len=48",
            "-o", str(out), "--json", str(tmp_path / "r.json")]
    res = CliRunner().invoke(app, args, catch_exceptions=False)
    assert res.exit_code == 0, res.output
    r = json.loads((tmp_path / "r.json").read_text())
    plan = make_plan(str(tiny_model_dir), str(SUPPORT))
    t0 = r["trials"][0]
    assert t0["role"] == "plan" and t0["state"] == "COMPLETE"
    assert t0["params"]["learning_rate"] == plan.config["learning_rate"]
    assert "best eval_loss" in res.output and "LLaMA-Factory YAML" in res.output
    assert (out / "best_config.yaml").is_file() and (out / "tune_report.html").is_file()


def test_cli_bad_budget_is_a_clean_error(tmp_path):
    res = CliRunner().invoke(app, ["tune", "--model", "x", "--data", "y", "--budget", "lots", "-o", str(tmp_path)])
    assert res.exit_code != 0 and "--budget lots" in str(res.exception or res.output)
