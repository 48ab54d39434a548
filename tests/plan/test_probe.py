"""`tiaocan plan --probe`: the measured section and JSON on the tiny model, the chosen learning rate, the budget
flag, Ctrl-C, what B_simple does to the batch, and tune starting from a probed plan."""
import json

import pytest
from typer.testing import CliRunner

from tiaocan.planning import DataFacts, make_plan
from tiaocan.planning.result import Plan, ProbeRun
from tiaocan.probing.lr_probe import two_digits
from tiaocan.probing.noise import NoiseEstimate

from helpers import run_cli, write_qa


@pytest.fixture(scope="module")
def data_file(tmp_path_factory):
    """200 short examples: the plan holds 20 out and runs 135 steps, so a 0.15 probe is a few steps a rate."""
    return write_qa(tmp_path_factory.mktemp("probedata") / "qa.jsonl", 200)


@pytest.fixture(scope="module")
def probed(tiny_model_dir, data_file, tmp_path_factory):
    """One real `plan --probe 0.15` run through the CLI: (output, plan JSON, plan YAML path)."""
    from tiaocan.cli import app

    out = tmp_path_factory.mktemp("probeout")
    # these runs test the probe's mechanics on a tiny model, not the horizon floor (tested on its own below): at a
    # 0.15 budget 200 examples give probe runs far shorter than the rule's shortest measured horizon
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("tiaocan.probing.core.SEEN_MIN_MEASURED", 1)
        r = CliRunner().invoke(app, ["plan", "--model", str(tiny_model_dir), "--data", str(data_file), "--gpu", "24GB",
                                     "--probe", "0.15", "-o", str(out / "plan.yaml"), "--json", str(out / "plan.json")])
    assert r.exit_code == 0, r.output
    return r.output, json.loads((out / "plan.json").read_text()), out / "plan.yaml"


def test_probe_runs_shorter_than_the_rules_horizons_measure_nothing(tiny_model_dir, data_file, tmp_path):
    """At the default floor, 200 examples x a 0.15 budget make probe runs of a few examples each: no learning rate
    is probed (on support60 such runs chose x2 the best), the rule's value stays, corrected by the measured noise
    scale only (learning_rate.noise_factor), with its reason, and the plan says what budget would do (or that tune
    should)."""
    from tiaocan.cli import app
    from tiaocan.planning.rules.learning_rate import SEEN_MIN_MEASURED, noise_factor

    r = CliRunner().invoke(app, ["plan", "--model", str(tiny_model_dir), "--data", str(data_file), "--gpu", "24GB",
                                 "--probe", "0.15", "-o", str(tmp_path / "plan.yaml"), "--json",
                                 str(tmp_path / "plan.json")])
    assert r.exit_code == 0, r.output
    data = json.loads((tmp_path / "plan.json").read_text())
    p = data["probe"]
    assert p["runs"] == [] and p["best_lr"] is None and p["probe_seen"] < SEEN_MIN_MEASURED
    assert p["noise"] is not None and 0 < p["compute_fraction"] <= 0.15  # only the noise-scale gradients were spent
    factor = noise_factor(data["steps"]["effective_batch"], p["noise"]["b_simple"])
    assert p["noise_factor"] == factor
    assert p["chosen_lr"] == data["config"]["learning_rate"] == (
        p["centre_lr"] if factor is None else two_digits(p["centre_lr"] * factor))
    rec = next(x for x in data["recommendations"] if x["key"] == "learning_rate")
    assert "No learning rate was measured" in rec["reason"]
    assert "tiaocan tune" in rec["reason"] or "--probe 0." in rec["reason"]
    if factor is None:
        assert "measured" not in rec["source"] and "not measured" in r.output
        assert "measured none" in (tmp_path / "plan.yaml").read_text()
    else:
        assert "noise scale" in rec["source"] and "The gradient noise scale measured here" in rec["reason"]
        # how sure: the probe's held-out record, and that K was fitted on another model than this tiny one
        assert "Held out on the calibration suite" in rec["reason"] and "K was fitted on SmolLM2-135M" in rec["reason"]
        assert "held out on Gemma's own curves (4) the correction moved the median miss from 4.9 % to 0.6 %" in \
            rec["reason"].replace("\n", " ")
        assert "noise-scale correction" in r.output and "for the gradient noise scale" in (
            tmp_path / "plan.yaml").read_text()


def test_a_measured_noise_scale_moves_the_rules_lr_within_its_range():
    """The correction is McCandlish's sqrt(B / (B + B_noise)) against the rule's sqrt(B / 8), at NOISE_K: a task
    noisier than typical (sharegpt100's B_simple 35) gets a lower lr, a quieter one a higher, never beyond x2 either
    way, and an unmeasurable B_simple leaves the rule alone."""
    from tiaocan.planning.rules.learning_rate import NOISE_K, noise_factor

    assert noise_factor(2, 35.2) == pytest.approx(NOISE_K * (8 / 37.2) ** 0.5) and noise_factor(2, 35.2) < 1
    assert noise_factor(4, 8.1) == pytest.approx(NOISE_K * (8 / 12.1) ** 0.5) and noise_factor(4, 8.1) > 1
    assert noise_factor(1, 0.01) == 2.0 and noise_factor(64, 500) == 0.5
    assert noise_factor(8, None) is None and noise_factor(8, float("nan")) is None and noise_factor(8, -3) is None
    # K's own model is recognised by its names (the reason adds the other-model caveat everywhere else)
    from tiaocan.planning.rules.learning_rate import NOISE_MODEL, measured_key

    assert measured_key("HuggingFaceTB/SmolLM2-135M-Instruct") == NOISE_MODEL
    assert measured_key("gemma-3-270m") not in (None, NOISE_MODEL)
    assert measured_key("Qwen/Qwen2.5-7B-Instruct") is None


def test_cli_probe_writes_the_measured_section_and_json(probed):
    output, data, _ = probed
    assert "measured" in output and "held-out loss" in output and "B_simple" in output
    p = data["probe"]
    assert len(p["runs"]) in (5, 6)  # 5, plus one beyond an edge when the budget left room
    for run in p["runs"]:
        assert run["status"] == "completed" and run["eval_loss"] > 0 and run["tokens"] > 0 and run["steps"] >= 3
    lrs = sorted(r["learning_rate"] for r in p["runs"][:5])
    assert all(b / a == pytest.approx(2.0) for a, b in zip(lrs, lrs[1:]))  # x2 apart
    assert p["noise"]["b_big"] > p["noise"]["b_small"] >= 1
    assert 0 < p["compute_fraction"] <= 0.3 and p["tokens"] > 0 and p["full_run_tokens"] > p["tokens"]
    assert p["held_out"] == "val_size" and p["eval_examples"] == 20


def test_chosen_lr_is_a_probed_one_after_the_transfer(probed):
    _, data, _ = probed
    p = data["probe"]
    best = min((r for r in p["runs"] if r["eval_loss"] is not None), key=lambda r: r["eval_loss"])
    assert p["best_lr"] == best["learning_rate"]
    assert p["chosen_lr"] == two_digits(best["learning_rate"] * p["transfer"])
    assert p["chosen_lr"] in {two_digits(r["full_run_lr"]) for r in p["runs"]}
    # the transfer is the rule's horizon function at the two horizons, called, not copied
    from tiaocan.planning.rules.learning_rate import horizon_factor

    assert p["transfer"] == pytest.approx(horizon_factor(p["full_seen"]) / horizon_factor(p["probe_seen"]))
    assert data["config"]["learning_rate"] == p["chosen_lr"]
    rec = next(r for r in data["recommendations"] if r["key"] == "learning_rate")
    assert rec["value"] == p["chosen_lr"] and "measured" in rec["source"] and "Measured on your data" in rec["reason"]
    assert "Held out on the calibration suite" in rec["reason"] and "K was fitted" not in rec["reason"]


def test_tune_trial_0_is_the_probed_config(probed):
    """A plan YAML written by `plan --probe` carries the measured values: tune's trial 0 is that config and its
    learning-rate range is centred on the measured rate."""
    import math

    import optuna

    from tiaocan.tuning.space import build_space
    from tiaocan.tuning.pruning import OptunaPruning
    from tiaocan.tuning.search import base_config

    _, data, yaml_path = probed
    assert "measured by `tiaocan plan --probe`" in yaml_path.read_text(encoding="utf-8")
    base, _, _ = base_config(None, None, config=str(yaml_path))
    lr = data["probe"]["chosen_lr"]
    assert base.learning_rate == lr and base.effective_batch() == data["steps"]["effective_batch"]
    space = build_space(base, expected_trials=20)
    p_lr = next(p for p in space.params if p.name == "learning_rate")
    assert math.sqrt(p_lr.low * p_lr.high) == pytest.approx(lr)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study()
    OptunaPruning("none", full_examples=100).start(study, space, base, 1, seed=0)
    trial0 = study.ask()
    assert space.suggest(trial0)["learning_rate"] == pytest.approx(lr)


def test_measured_section_in_chinese(probed, capsys):
    from tiaocan.cli._probe_view import show_probe

    _, data, _ = probed
    show_probe(Plan.model_validate(dict(data, lang="zh")))
    out = capsys.readouterr().out
    assert "实测" in out and "验证 loss" in out and "用量" in out


# ------------------------------------------------------------------------------------------------ the budget flag


@pytest.mark.parametrize("budget", ["0.5", "0", "-0.1", "abc"])
def test_bad_budget_is_a_usage_error_naming_probe(monkeypatch, capsys, budget):
    code, out = run_cli(monkeypatch, capsys, "plan", "--data", "/nonexistent.jsonl", "--probe", budget)
    assert code == 2 and "--probe" in out and "0.3" in out


@pytest.mark.parametrize("args, budget", [(["--probe"], 0.15), (["--probe", "--gpu", "24GB"], 0.15),
                                          (["--probe", "0.25"], 0.25), (["--probe=0.3"], 0.3), ([], None)])
def test_probe_alone_means_the_default_budget(monkeypatch, tiny_model_dir, data_file, args, budget):
    import tiaocan.probing as probing
    from tiaocan.cli import app

    seen = []
    monkeypatch.setattr(probing, "probe_plan", lambda plan, b, **kw: seen.append(b) or plan)
    r = CliRunner().invoke(app, ["plan", "--model", str(tiny_model_dir), "--data", str(data_file), *args])
    assert r.exit_code == 0, r.output
    assert seen == ([budget] if budget else [])


def test_ctrl_c_exits_130_and_leaves_nothing(monkeypatch, capsys, tiny_model_dir, data_file, tmp_path):
    import tempfile

    calls = []

    def ctrl_c_on_second(cfg, full_lr):
        calls.append(cfg.output_dir)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return ProbeRun(learning_rate=cfg.learning_rate, full_run_lr=full_lr, eval_loss=1.0, steps=3, tokens=10)

    monkeypatch.setattr("tiaocan.probing.core.score", ctrl_c_on_second)
    monkeypatch.setattr("tiaocan.probing.core.SEEN_MIN_MEASURED", 1)  # reach the learning-rate runs on 200 examples
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    out = tmp_path / "plan.yaml"
    code, text = run_cli(monkeypatch, capsys, "plan", "--model", tiny_model_dir, "--data", data_file,
                         "--probe", "-o", out)
    assert code == 130 and "interrupted" in text and len(calls) == 2
    assert not out.exists() and not list((tmp_path / "tmp").glob("tiaocan-probe-*"))  # the probe's runs removed


# ------------------------------------------------------------------------------------------------ pure parts
@pytest.fixture
def facts():
    return DataFacts(num_examples=2000, mean_tokens=200, p99_tokens=500, max_tokens=600, recommended_cutoff_len=512,
                     total_tokens=400_000, total_response_tokens=200_000)


def _est(b):
    return NoiseEstimate(grad_sq=1.0, trace_sigma=float(b), b_simple=float(b), b_small=1, b_big=16)


def test_far_b_simple_moves_the_batch_down_and_the_rule_moves_the_lr(facts):
    from tiaocan.probing.batch import apply_noise_scale

    plan = make_plan("smollm2-135m", facts, gpu="24GB", lang="en")
    eb = plan.steps.effective_batch
    new, why = apply_noise_scale(plan, _est(eb / 8), 16, 1)
    assert eb == 32 and new.steps.effective_batch == max(4, new.config["per_device_train_batch_size"])
    assert "B_simple ≈ 4" in why
    assert new.config["per_device_train_batch_size"] == plan.config["per_device_train_batch_size"]
    # the learning rate at the new batch is the rule's own (a plan made with that batch), not a power law done here
    again = make_plan("smollm2-135m", facts, gpu="24GB", lang="en",
                      overrides={"gradient_accumulation_steps": new.config["gradient_accumulation_steps"],
                                 "per_device_train_batch_size": new.config["per_device_train_batch_size"]})
    assert new.config["learning_rate"] == again.config["learning_rate"] != plan.config["learning_rate"]
    rec = {r.key: r for r in new.recommendations}
    assert "measured" in rec["gradient_accumulation_steps"].source and not rec["gradient_accumulation_steps"].overridden
    assert new.overrides == plan.overrides
    # far above: the batch rule already left the fewest steps it allows (data-limited: a larger batch at the same
    # passes is fewer updates, which cost held-out loss on the suite), so the batch stays and the text says why
    up, why_up = apply_noise_scale(plan, _est(eb * 8), 16, 1)
    assert up is plan and "B_simple ≈ 256" in why_up and "asks for about 256" in why_up and "fewer updates" in why_up


def test_near_or_user_set_batch_stays(facts):
    from tiaocan.probing.batch import apply_noise_scale

    plan = make_plan("smollm2-135m", facts, gpu="24GB", lang="en")
    eb = plan.steps.effective_batch
    assert apply_noise_scale(plan, _est(eb * 1.5), 16, 1)[0] is plan
    fixed = make_plan("smollm2-135m", facts, gpu="24GB", lang="en", overrides={"effective_batch": eb})
    kept, why = apply_noise_scale(fixed, _est(eb * 8), 16, 1)
    assert kept is fixed and "--set" in why
    none = NoiseEstimate(grad_sq=-1.0, trace_sigma=1.0, b_simple=None, b_small=1, b_big=16)
    assert apply_noise_scale(plan, none, 16, 1)[0] is plan


def test_best_at_the_edge_extends_one_step_when_the_budget_allows(monkeypatch, facts):
    """Held-out loss falling with the learning rate: the best is the highest, one more run x2 above is added
    (diverged runs are the worst), and the plan says the best sat at the edge."""
    from tiaocan.probing import probe_plan

    def fake(cfg, full_lr):
        lr = cfg.learning_rate
        return ProbeRun(learning_rate=lr, full_run_lr=full_lr, eval_loss=1.0 / lr, steps=cfg.max_steps, tokens=1)

    monkeypatch.setattr("tiaocan.probing.core.score", fake)
    plan = make_plan("smollm2-135m", facts, gpu="24GB", lang="en")
    p = probe_plan(plan, 0.15, noise=False, quiet=True).probe
    assert len(p.runs) == 6 and p.extended and p.edge == "high"
    assert p.best_lr == max(r.learning_rate for r in p.runs)
    assert p.chosen_lr == two_digits(p.best_lr * p.transfer)
    # the five candidates stand for the planned value / 4 ... x 4 in the full run
    assert sorted(r.full_run_lr for r in p.runs[:5])[2] == pytest.approx(plan.config["learning_rate"])


def test_all_runs_failing_keeps_the_rule(monkeypatch, facts):
    from tiaocan.probing import probe_plan

    monkeypatch.setattr("tiaocan.probing.core.score", lambda cfg, full_lr: ProbeRun(
        learning_rate=cfg.learning_rate, full_run_lr=full_lr, status="diverged", steps=1, tokens=1))
    plan = make_plan("smollm2-135m", facts, gpu="24GB", lang="zh")
    new = probe_plan(plan, 0.1, noise=False, quiet=True)
    assert new.config["learning_rate"] == plan.config["learning_rate"] and new.probe.best_lr is None
    rec = next(r for r in new.recommendations if r.key == "learning_rate")
    assert "发散" in rec.reason  # the reason in the plan's language
