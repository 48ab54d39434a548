"""inspect: statistics, cutoff advice, truncation impact, data problems; CLI output and errors."""
import json
import subprocess
import sys

import numpy as np
import pytest

from tiaocan.data.inspect import inspect_data, recommend_cutoff


def _rows(n=40):
    rows = []
    for i in range(n):
        rows.append({"instruction": f"Question {i}: " + "tell me more " * (i % 7), "input": "",
                     "output": "Answer " + "word " * (3 + i % 11)})
    rows.append(dict(rows[0]))                                   # exact duplicate
    rows.append({"instruction": "empty?", "input": "", "output": "   "})  # whitespace answer
    rows.append({"instruction": "长" * 30, "input": "", "output": "答" * 200})  # long Chinese answer
    return rows


@pytest.fixture
def data_file(tmp_path):
    p = tmp_path / "d.jsonl"
    p.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in _rows()), encoding="utf-8")
    return p


def test_recommend_cutoff_covers_99pct_and_rounds_to_64():
    n = np.arange(1, 1001)
    c = recommend_cutoff(n, context=4096)
    assert c % 64 == 0 and (n <= c).mean() >= 0.99 and c - 64 < np.quantile(n, 0.99)
    assert recommend_cutoff(n, context=512) == 512  # never above the model's context


def test_inspect_report(data_file, tiny_model_dir, tmp_path):
    rep = inspect_data(str(data_file), model=str(tiny_model_dir), plot=tmp_path / "h.png")
    assert rep.num_examples == 43
    assert rep.full.max >= rep.full.p99 >= rep.full.p50 >= rep.full.min
    assert rep.full.total == rep.prompt.total + rep.response.total
    assert rep.recommended_cutoff_len % 64 == 0
    # >= 99 % whole unless the model's context (512 for the tiny model) caps it
    assert rep.recommended_coverage_pct >= 99.0 or rep.recommended_cutoff_len == rep.model_context
    assert rep.problems.duplicates == 1 and rep.problems.duplicate_examples[0] == [1, 41]
    assert rep.problems.empty_responses == 1 and rep.problems.empty_response_examples == [42]
    assert rep.problems.languages["zh"] > 0
    assert (tmp_path / "h.png").stat().st_size > 1000


def test_inspect_at_small_cutoff_reports_cuts(data_file, tiny_model_dir):
    keep = inspect_data(str(data_file), model=str(tiny_model_dir), cutoff_len=64)
    cut = inspect_data(str(data_file), model=str(tiny_model_dir), cutoff_len=64, truncation="cut_end")
    drop = inspect_data(str(data_file), model=str(tiny_model_dir), cutoff_len=64, truncation="drop")
    assert keep.at_cutoff.examples_cut > 0 and cut.at_cutoff.answers_cut > 0
    # keep_response protects answers: it never loses more answer tokens than cutting the end
    assert keep.at_cutoff.response_tokens_lost <= cut.at_cutoff.response_tokens_lost
    assert drop.at_cutoff.examples_dropped > 0 and drop.at_cutoff.examples_cut == 0


def _cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "tiaocan", *args], capture_output=True, text=True, cwd=cwd, timeout=300)


def test_cli_inspect_json_and_errors(data_file, tiny_model_dir, tmp_path):
    out = tmp_path / "r.json"
    r = _cli("inspect", str(data_file), "--model", str(tiny_model_dir), "--json", str(out), "--no-plot")
    assert r.returncode == 0, r.stderr
    assert "Recommended" in r.stdout and json.loads(out.read_text())["num_examples"] == 43
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"instruction": "a", "output": "b"}\n{oops}\n')
    r = _cli("inspect", str(bad), "--model", str(tiny_model_dir), "--no-plot")
    assert r.returncode == 2 and "line 2" in r.stdout and "Traceback" not in r.stdout + r.stderr
    r = _cli("inspect", str(data_file), "--model", str(tmp_path / "no-such-model"), "--no-plot")
    assert r.returncode == 2 and "not found" in r.stdout and "Traceback" not in r.stdout + r.stderr


@pytest.mark.integration
def test_inspect_real_smollm2_tokenizer(data_file, smollm2_dir):
    rep = inspect_data(str(data_file), model="smollm2-135m")
    assert rep.model_context == 8192 and rep.num_examples == 43
    assert rep.prompt.min > 20  # SmolLM2's template adds a default system prompt


@pytest.mark.parametrize("n_zh, mixed, multi", [(50, False, True), (15, True, False), (3, False, False)])
def test_bilingual_set_is_information_not_a_problem(tiny_model_dir, tmp_path, n_zh, mixed, multi):
    rows = [{"instruction": f"Where is shop {i}?", "output": f"At road {i}."} for i in range(100 - n_zh)]
    rows += [{"instruction": f"第{i}家店在哪里？", "output": f"在{i}号路。"} for i in range(n_zh)]
    path = tmp_path / "bi.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    p = inspect_data(str(path), model=str(tiny_model_dir)).problems
    assert (p.mixed_languages, p.multilingual) == (mixed, multi), p.languages


def test_cli_inspect_shows_topic_balance(tiny_model_dir, tmp_path):
    from typer.testing import CliRunner

    from tiaocan.cli import app

    support = "src/tiaocan/examples/support"
    r = CliRunner().invoke(app, ["inspect", f"{support}/train.jsonl", "--test", f"{support}/test.jsonl", "--model",
                                 str(tiny_model_dir), "--plot", str(tmp_path / "l.png")], env={"COLUMNS": "140"})
    assert r.exit_code == 0, r.output
    assert "Topics" in r.output and "under-represented topics: returns, warranty" in r.output, r.output
    assert "Languages: en 50%, zh 50% — multilingual" in r.output and "mixed languages" not in r.output
