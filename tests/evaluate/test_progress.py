"""Progress on every long step: eval generation (tuned and base) and in-training evals say done / total and the
time left, also in a pipe or log file (where a live bar would print nothing until it ends)."""
import io
import json

from rich.console import Console

from tiaocan.evaluation import evaluate
from tiaocan.progress import StepProgress, fmt_seconds

from eval_helpers import SUPPORT


def test_lines_in_a_pipe(monkeypatch):
    import tiaocan.progress as p

    buf = io.StringIO()
    clock = iter([0.0, 20.0, 41.0])
    monkeypatch.setattr(p.time, "perf_counter", lambda: next(clock))
    with StepProgress(True, 30, "generating answers (run)", console=Console(file=buf, width=120)) as advance:
        advance(10)
        advance(20)
    out = buf.getvalue().splitlines()
    assert out[0] == "generating answers (run): 30 examples…"
    assert out[1] == "generating answers (run): 10/30 examples, ~40s left"
    assert out[2].startswith("generating answers (run): 30/30 examples in ")
    assert fmt_seconds(75) == "1m15s" and fmt_seconds(3700) == "1h01m"


def test_eval_generation_reports_tuned_and_base(tiny_run_dir, capsys):
    evaluate(str(tiny_run_dir), str(SUPPORT / "test.jsonl"), base=True, max_samples=6, max_new_tokens=4,
             batch_size=3, progress=True)
    out = capsys.readouterr().out
    assert "generating answers (" in out and out.count("6/6 examples") == 2, out  # tuned, then base


def test_in_training_eval_shows_examples_done(tiny_model_dir, tmp_path, capsys):
    from tiaocan.training import train

    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps({"instruction": f"q{i}?", "output": f"answer {i}."}) + "\n" for i in range(40)))
    train(dict(model_name_or_path=str(tiny_model_dir), dataset=str(data), cutoff_len=64, per_device_train_batch_size=4,
               gradient_accumulation_steps=1, per_device_eval_batch_size=3, num_train_epochs=1, val_size=8, eval_steps=4, learning_rate=1e-3,
               save_steps=1000, output_dir=str(tmp_path / "run")))
    out = capsys.readouterr().out
    assert "step 4/8: eval: 8 examples…" in out and "step 4/8: eval: 8/8 examples in" in out, out
