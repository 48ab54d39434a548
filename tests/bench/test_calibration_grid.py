"""The calibration runner (bench/calibration/grid.py): one real run on the tiny model is scored at its last step."""
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench" / "calibration"))


def _tiny_task(task_dir: Path, n_train: int, n_val: int, tiny_model_dir: Path, monkeypatch) -> dict:
    """A task folder (train.jsonl / val.jsonl of one-line QA) that grid.py reads as its DATA; returns a base config."""
    import grid

    rows = [{"messages": [{"role": "user", "content": f"question {i}?"}, {"role": "assistant", "content": f"answer {i}."}]}
            for i in range(n_train + n_val)]
    (task_dir / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[:n_train]))
    (task_dir / "val.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[n_train:]))
    monkeypatch.setattr(grid, "DATA", task_dir.parent)
    return dict(model_name_or_path=str(tiny_model_dir), cutoff_len=64, lora_rank=4, lora_alpha=8, packing=True)


def test_run_one_scores_final_and_best(tiny_model_dir, tmp_path, monkeypatch):
    import grid

    base = _tiny_task(tmp_path, 20, 4, tiny_model_dir, monkeypatch)
    cfg = grid.run_config(base, tmp_path.name, lr=1e-3, batch=4, epochs=2.0, micro_cap=2)
    assert (cfg["per_device_train_batch_size"], cfg["gradient_accumulation_steps"]) == (2, 2)
    row = grid.run_one(dict(id="tiny|t|grid", task="t", model="tiny", kind="grid", config=cfg), tmp_path / "scratch")
    assert "error" not in row, row
    assert row["steps"] == row["total_steps"] == 10  # 20 examples / batch 4 x 2 epochs
    assert row["evals"][-1][0] == 10, "the last step is always evaluated"
    assert row["final_eval"] == row["evals"][-1][1] and row["best_eval"] == min(e for _, e in row["evals"])
    assert row["tokens"] > 0 and row["batch"] == 4
    assert row["config"]["learning_rate"] == 1e-3 and "output_dir" not in row["config"], "the run's whole config"
    assert not (tmp_path / "scratch" / "tiny_t_grid").exists(), "scratch run removed"


def test_run_jobs_resumes_and_honours_the_deadline(tiny_model_dir, tmp_path, monkeypatch):
    """`grid.py run`: jobs already in the results file are skipped, each new row is appended as its run ends, and
    no run starts after the deadline (those jobs stay for a later run)."""
    import grid

    base = _tiny_task(tmp_path, 8, 4, tiny_model_dir, monkeypatch)
    jobs = [dict(id=f"tiny|t|grid|{lr}", task="t", model="tiny", kind="grid",
                 config=grid.run_config(base, tmp_path.name, lr=lr, batch=4, epochs=1.0, micro_cap=4))
            for lr in (1e-3, 2e-3)]
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    results = tmp_path / "runs.jsonl"
    results.write_text(json.dumps({"id": jobs[0]["id"], "final_eval": 1.0}) + "\n")
    assert grid.run_jobs(jobs, results, workers=2, deadline=0.0, scratch=tmp_path / "s") == 0
    assert len(results.read_text().splitlines()) == 1, "nothing ran after the deadline"
    monkeypatch.chdir(ROOT)  # job paths are relative to the repository root, as on the machines that run them
    assert grid.run_jobs(jobs, results, workers=2, deadline=9e9, scratch=tmp_path / "s") == 1
    ids = [json.loads(x)["id"] for x in results.read_text().splitlines()]
    assert ids == [jobs[0]["id"], jobs[1]["id"]], "the done job was skipped, the other appended once"
    assert "error" not in json.loads(results.read_text().splitlines()[1])
    assert os.environ["OMP_NUM_THREADS"] == "3", "the workers' thread setting is theirs alone: ours is restored"


def test_a_seed_repeat_runs_its_source_config_at_another_seed(tiny_model_dir, tmp_path, monkeypatch):
    """`grid.py seeds`: the source run's whole config at the new seed, `of` naming the source in the row; a run
    from before rows kept their config takes a `like` run's only when the two agree on all but the lr."""
    import grid
    import pytest

    base = _tiny_task(tmp_path, 8, 4, tiny_model_dir, monkeypatch)
    cfg = dict(grid.run_config(base, tmp_path.name, lr=1e-3, batch=4, epochs=3.0, micro_cap=4), eval_steps=3)
    src = dict(id="tiny|t|plan_loto|lr0.001|b4|e3|lp0", task="t", model="tiny", kind="plan_loto", lr=1e-3, batch=4,
               evals=[[3, 2.0], [6, 1.9]], config=cfg)
    (job,) = grid.seed_jobs([src], [3])
    assert job["id"] == "tiny|t|seed|lr0.001|b4|e3|lp0|of-plan_loto|seed3" and job["of"] == src["id"]
    assert job["config"] == dict(cfg, seed=3)
    old = {k: v for k, v in src.items() if k != "config"} | dict(id="tiny|t|plan_v2", lr=3e-3)
    assert grid.config_of(old, src)["learning_rate"] == 3e-3
    with pytest.raises(ValueError, match="--like"):
        grid.config_of(old, dict(src, evals=[[6, 1.9]]))  # another eval cadence: not the same run
    monkeypatch.chdir(ROOT)
    row = grid.run_one(job, tmp_path / "scratch")
    assert "error" not in row, row
    assert row["of"] == src["id"] and row["config"]["seed"] == 3
    assert [s for s, _ in row["evals"]] == [3, 6], "the source's eval cadence (every 3 steps), not the grid's (1)"
