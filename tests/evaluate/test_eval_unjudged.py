"""A test set without answers: the generated answers are shown, never "No failed examples" at 0/0."""
import json

from tiaocan.evaluation import evaluate


def test_no_answers_shows_generations(tiny_run_dir, tmp_path, capsys):
    from tiaocan.cli.eval_cmd import show_report

    test = tmp_path / "q.jsonl"
    test.write_text("".join(json.dumps({"messages": [{"role": "user", "content": f"question [{i}]?"}]}) + "\n"
                            for i in range(3)))
    report = evaluate(str(tiny_run_dir), str(test), max_new_tokens=4, batch_size=3, progress=False)
    show_report(report)
    out = capsys.readouterr().out
    assert "No failed examples" not in out and "0/0" not in out
    assert "nothing was judged" in out and "Generated answers (3 of 3)" in out and "question [1]?" in out
