"""bench/calibration/probe.py: `plan --probe` on a (tiny) task, scored on a grid through fit.py's helpers."""
import json
import sys
from pathlib import Path

import pytest

from helpers import write_task

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench" / "calibration"))


def test_help_runs():
    import probe

    with pytest.raises(SystemExit) as e:
        probe.main(["--help"])
    assert e.value.code == 0


def test_probe_a_tiny_task_and_score_it_on_the_grid(tiny_model_dir, tmp_path, capsys, monkeypatch):
    import probe

    monkeypatch.setattr("tiaocan.probing.core.SEEN_MIN_MEASURED", 1)  # 60 examples: probe runs below the rule's floor

    write_task(tmp_path / "data", "t", 60, 10)
    model = str(tiny_model_dir)
    # a synthetic grid: a parabola in log2(lr) with its best at 1e-2, at the batches a plan could pick
    grid = [dict(id=f"{b}-{k}", model=model, task="t", kind="grid", lr=1e-5 * 2 ** k, batch=b, epochs=3.0, loraplus=0,
                 best_eval=2.0 + 0.01 * (k - 10) ** 2, stop="completed", n_train=60)
            for b in (1, 2, 4, 8, 16) for k in range(20)]
    runs = tmp_path / "runs.jsonl"
    runs.write_text("".join(json.dumps(r) + "\n" for r in grid))
    r = probe.main(["--task", "t", "--model", model, "--data-dir", str(tmp_path / "data"), "--runs", str(runs),
                    "--budget", "0.3", "--json", str(tmp_path / "r.json"), "--job", str(tmp_path / "jobs.jsonl")])
    out = capsys.readouterr().out
    assert "regret vs the task's best measured run" in out and "run-equivalents" in out
    assert r["regret"] is not None and r["regret"] >= 0 and r["best"] == pytest.approx(2.0)
    assert 0 < r["run_equivalents"] and json.loads((tmp_path / "r.json").read_text())["chosen_lr"] == r["chosen_lr"]
    # --job: the probed config as a grid.py job that runs it as written, on the task's own files
    (job,) = [json.loads(line) for line in (tmp_path / "jobs.jsonl").read_text().splitlines()]
    assert job["kind"] == probe.PROBE_KIND and job["config"]["learning_rate"] == r["chosen_lr"]
    assert job["config"]["dataset"].endswith("t/train.jsonl") and job["config"]["eval_dataset"].endswith("t/val.jsonl")
    assert job["id"].startswith(f"{model}|t|{probe.PROBE_KIND}|")
