"""Readers on fixture logs in each format, and on bad input: partial results or a UserError naming the file."""
from __future__ import annotations

import json
import math
import shutil

import pytest

from tiaocan.diagnosis import read_run
from tiaocan.errors import UserError


def test_llamafactory_dir(fixtures):
    c = read_run(fixtures / "lf_run")
    assert c.source == "llamafactory" and c.finished is True
    assert c.steps == [5, 10, 15, 20, 25, 30]  # eval and progress-only lines are not train points
    assert c.loss[0] == pytest.approx(2.1432) and c.lr[-1] == pytest.approx(1.2e-06)
    assert c.eval_steps == [10, 20, 30] and c.eval_loss[-1] == pytest.approx(1.3921)
    assert all(math.isnan(g) for g in c.grad_norm)  # LLaMA-Factory does not log it
    assert c.total_steps == 30 and c.config["learning_rate"] == 5e-05 and c.summary["train_loss"] == 1.5329


def test_hf_trainer_state(fixtures):
    c = read_run(fixtures / "hf_run")
    assert c.source == "hf" and c.finished is True and c.total_steps == 8
    assert c.steps == list(range(1, 9)) and math.isnan(c.loss[6]) and math.isnan(c.grad_norm[5])
    assert c.eval_steps == [4, 8] and c.config["per_device_train_batch_size"] == 4
    assert read_run(fixtures / "hf_run" / "trainer_state.json").steps == c.steps  # the file itself works too


def test_tiaocan_run_still_running(fixtures):
    c = read_run(fixtures / "tiaocan_run")
    assert c.source == "tiaocan" and c.finished is False
    assert c.steps == [1, 2, 3, 4] and c.grad_norm[0] == pytest.approx(1.9)
    assert any("line(s) 6" in n and "cut off" in n for n in c.notes)  # the half-written last line


def test_merges_grad_norm_from_state_into_lf_log(tmp_path, fixtures):
    run = tmp_path / "run"
    shutil.copytree(fixtures / "lf_run", run)
    hist = [{"step": 5, "loss": 2.1432, "grad_norm": 4.2, "learning_rate": 4.8e-05, "epoch": 0.5}]
    (run / "trainer_state.json").write_text(json.dumps({"log_history": hist, "max_steps": 30}))
    c = read_run(run)
    assert c.grad_norm[0] == pytest.approx(4.2) and len(c.steps) == 6


def test_checkpoint_state_when_running(tmp_path, fixtures):
    ck = tmp_path / "run" / "checkpoint-4"
    ck.mkdir(parents=True)
    state = json.loads((fixtures / "hf_run" / "trainer_state.json").read_text())
    state["log_history"] = state["log_history"][:5]
    for rec in state["log_history"]:  # transformers 5 logs a running train_runtime on every step
        rec["train_runtime"] = 1.0
    (ck / "trainer_state.json").write_text(json.dumps(state))
    (tmp_path / "run" / "checkpoint-2").mkdir()
    c = read_run(tmp_path / "run")
    assert c.steps == [1, 2, 3, 4] and any("checkpoint-4" in n for n in c.notes)
    assert c.finished is False


def test_truncated_trainer_state_is_salvaged(tmp_path, fixtures):
    text = (fixtures / "hf_run" / "trainer_state.json").read_text()
    cut = text[: text.index('"loss": 1.7')]  # cut in the middle of the step-5 entry
    (tmp_path / "trainer_state.json").write_text(cut)
    c = read_run(tmp_path)
    assert c.steps == [1, 2, 3, 4] and c.eval_steps == [4]
    assert any("recovered" in n for n in c.notes)


def test_garbage_lines_are_skipped_with_line_numbers(tmp_path, fixtures):
    lines = (fixtures / "lf_run" / "trainer_log.jsonl").read_text().splitlines()
    lines.insert(2, "this is not json")
    lines.insert(4, "[1, 2]")
    (tmp_path / "trainer_log.jsonl").write_text("\n".join(lines))
    c = read_run(tmp_path)
    assert len(c.steps) == 6
    assert any("3, 5" in n and "not valid JSON" in n for n in c.notes)


@pytest.mark.parametrize("content, words", [
    ("", "empty"),
    ("garbage\nmore garbage\n", "line: 1"),
    ('{"current_steps": 1, "total_steps": 10, "percentage": 10}\n', "no loss"),
])
def test_unusable_jsonl_raises_user_error(tmp_path, content, words):
    (tmp_path / "trainer_log.jsonl").write_text(content)
    with pytest.raises(UserError) as e:
        read_run(tmp_path)
    assert "trainer_log.jsonl" in str(e.value) and words in str(e.value)


def test_bad_state_and_missing_logs(tmp_path):
    with pytest.raises(UserError, match="no trainer_log.jsonl or trainer_state.json"):
        read_run(tmp_path)
    with pytest.raises(UserError, match="no such file"):
        read_run(tmp_path / "nope")
    (tmp_path / "trainer_state.json").write_text("{not json")
    with pytest.raises(UserError, match=r"trainer_state.json: not valid JSON \(line 1"):
        read_run(tmp_path)
    (tmp_path / "trainer_state.json").write_text(json.dumps({"log_history": [{"step": 1, "train_runtime": 3}]}))
    with pytest.raises(UserError, match="no loss or eval_loss"):
        read_run(tmp_path)


def test_one_good_source_is_enough(tmp_path, fixtures):
    shutil.copy(fixtures / "hf_run" / "trainer_state.json", tmp_path)
    (tmp_path / "trainer_log.jsonl").write_text("")
    c = read_run(tmp_path)
    assert len(c.steps) == 8 and any("ignored" in n and "empty" in n for n in c.notes)
