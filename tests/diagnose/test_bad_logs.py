"""Corrupt log values are skipped with a note: no OverflowError, no invented NaN divergence, no bad config copied."""
import json

import pytest

from tiaocan.diagnosis import diagnose
from tiaocan.diagnosis.readers import read_run


def _log(tmp_path, extra, name="run"):
    run = tmp_path / name
    run.mkdir()
    lines = [json.dumps({"current_steps": s, "total_steps": 40, "loss": 2.0 - s * 0.02, "lr": 1e-4})
             for s in range(1, 41)]
    (run / "trainer_log.jsonl").write_text("\n".join(lines[:20] + extra + lines[20:]) + "\n")
    return run


@pytest.mark.parametrize("bad", [
    '{"current_steps": Infinity, "loss": 1.0}',
    '{"current_steps": 1e300, "loss": 1.0}',
    '{"current_steps": 5, "total_steps": Infinity, "loss": 1.5}',
    '{"current_steps": 21, "loss": [1]}',
    '{"current_steps": 21, "loss": {"a": 1}}',
    '{"current_steps": 21, "loss": "abc"}',
])
def test_bad_record_is_skipped_with_a_note(tmp_path, bad):
    run = _log(tmp_path, [bad])
    d = diagnose(run, check_data=False).runs[0]
    assert not any(f.id == "divergence" or "NaN" in f.title for f in d.findings)
    if "total_steps\": Infinity" not in bad:
        assert any("skipped line 21" in n for n in d.notes), d.notes


def test_state_log_history_bad_values(tmp_path):
    run = tmp_path / "hf"
    run.mkdir()
    hist = [{"step": s, "loss": 2.0 - s * 0.02} for s in range(1, 31)] + [{"step": 31, "loss": [1]}, {"step": 1e400}]
    (run / "trainer_state.json").write_text(json.dumps({"log_history": hist, "max_steps": 31,
                                                        "train_batch_size": "abc"}).replace("1e+400", "Infinity"))
    c = read_run(run)
    assert len(c.loss) == 30
    assert "per_device_train_batch_size" not in c.config
    assert any("log_history[30]" in n for n in c.notes) and any("not a number; ignored" in n for n in c.notes)


def test_one_bad_run_does_not_sink_the_others(tmp_path):
    from tiaocan.diagnosis.report import write_report

    good = _log(tmp_path, [], "good")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "trainer_log.jsonl").write_text("garbage\n")
    skipped: list[str] = []
    out = write_report([good, bad], tmp_path / "r.html", skipped=skipped)
    assert out.is_file() and len(skipped) == 1 and "bad" in skipped[0]
    result = diagnose([good, bad], check_data=False)
    assert len(result.runs) == 1 and len(result.skipped) == 1
