"""`tiaocan eval` end to end on the tiny model: a fake run dir, the bundled test set, --base, JSON, HTML, errors."""
import json
import shutil

import pytest

from tiaocan.errors import UserError
from tiaocan.evaluation import EvalReport, evaluate

from eval_helpers import SUPPORT, make_run_dir, write_rows


@pytest.fixture(scope="module")
def report(tiny_run_dir) -> EvalReport:
    return evaluate(str(tiny_run_dir), str(SUPPORT / "test.jsonl"), base=True, max_samples=12, max_new_tokens=8,
                    batch_size=5, progress=False)


def test_report_has_loss_answers_checks_categories_and_base(report):
    t = report.tuned
    assert report.n_test == 12 and len(t.examples) == 12 and t.loss_examples == 12
    assert t.loss > 0 and t.perplexity == pytest.approx(2.718281828 ** t.loss, rel=1e-2)
    assert all(e.expected and e.category and e.checks.facts_total >= 1 for e in t.examples)
    assert t.scores.n_judged == 12 and t.scores.fact_accuracy is not None
    assert {c.category for c in t.categories} == {e.category for e in t.examples}
    assert all(c.train_examples and c.train_examples > 0 for c in t.categories)  # counted from the run's dataset
    # --base switched the (random, non-zero) adapter off: a different model, same examples.
    assert report.base is not None and len(report.base.examples) == 12
    assert report.base.loss != pytest.approx(t.loss, abs=1e-6)
    assert set(report.gain) >= {"fact_accuracy", "loss"}
    # An untrained 2-layer model states no facts: failures with reasons and advice for thin topics.
    assert report.failures() and all(e.checks.failed_checks for e in report.failures())


def test_advice_names_the_thin_topic_when_it_fails(tiny_run_dir):
    rep = evaluate(str(tiny_run_dir), "support_test", dataset_dir=str(SUPPORT), max_new_tokens=4, batch_size=16,
                   progress=False)
    kinds = {(a.kind, a.category) for a in rep.advice}
    assert ("add_examples", "returns") in kinds and ("add_examples", "warranty") in kinds
    msg = next(a.message for a in rep.advice if a.category == "returns" and a.kind == "add_examples")
    assert "6 training examples vs 24 median" in msg
    assert any(a.kind == "rare_fact" for a in rep.advice)


def test_batched_generation_equals_one_at_a_time(tiny_run_dir):
    from tiaocan.evaluation.generate import generate_answers
    from tiaocan.evaluation.loading import load_target

    loaded = load_target(str(tiny_run_dir))
    prompts = [[{"role": "user", "content": q}] for q in ("Where is your shop?", "运费多少？", "How do points work, and what are they worth?")]
    batched, _ = generate_answers(loaded.model, loaded.tokenizer, prompts, max_new_tokens=6, batch_size=3, progress=False)
    single = [generate_answers(loaded.model, loaded.tokenizer, [p], max_new_tokens=6, batch_size=1, progress=False)[0][0]
              for p in prompts]
    assert batched == single  # left padding + attention mask: padding must not change greedy answers


def test_json_and_html_outputs(report, tmp_path):
    from tiaocan.cli._app import write_json
    from tiaocan.evaluation.html import write_html

    write_json(report, tmp_path / "r.json")
    data = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert data["tuned"]["scores"]["n"] == 12 and "gain" in data and data["base"]["model"]
    EvalReport.model_validate({k: v for k, v in data.items() if k != "gain"})
    html = write_html(report, tmp_path / "r.html").read_text(encoding="utf-8")
    assert "Failures" in html and report.tuned.examples[0].prompt.split()[0] in html


def test_rows_without_reference_or_facts(tiny_run_dir):
    """In-memory rows (the file loader requires a final answer): no reference → generated, not judged, no loss."""
    import datasets

    from tiaocan.evaluation import evaluate_model
    from tiaocan.evaluation.loading import load_target

    rows = [{"messages": [{"role": "user", "content": "Where is your shop?"}], "must_contain": []},
            {"messages": [{"role": "user", "content": "运费多少？"}, {"role": "assistant", "content": "满99元包邮。"}],
             "must_contain": []}]
    loaded = load_target(str(tiny_run_dir))
    ev = evaluate_model(loaded.model, loaded.tokenizer, datasets.Dataset.from_list(rows), max_new_tokens=4, progress=False)
    first, second = ev.examples
    assert first.checks.passed is None and first.loss is None and first.expected is None
    assert second.loss is not None and second.checks.chrf is not None and second.checks.passed is not None
    assert ev.loss_examples == 1 and ev.scores.n_judged == 1 and ev.scores.fact_accuracy is None


def test_rows_without_facts_are_said(tiny_run_dir, tmp_path):
    rows = [{"messages": [{"role": "user", "content": "运费多少？"}, {"role": "assistant", "content": "满99元包邮。"}]}]
    rep = evaluate(str(tiny_run_dir), str(write_rows(tmp_path / "t.jsonl", rows)), max_new_tokens=4, progress=False)
    assert any("no must_contain" in n for n in rep.notes) and rep.tuned.categories == []


def test_run_dir_without_adapter_names_the_checkpoint(tiny_run_dir, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(tiny_run_dir, run / "checkpoint-20")
    (run / "tiaocan_config.yaml").write_text((tiny_run_dir / "tiaocan_config.yaml").read_text())
    with pytest.raises(UserError, match="no adapter.*checkpoint-20"):
        evaluate(str(run), str(SUPPORT / "test.jsonl"), progress=False)


def test_mismatched_base_model_is_a_clear_error(tiny_run_dir, tmp_path):
    from tiny_model import build_tiny_model

    other = build_tiny_model(tmp_path / "other", hidden=32)  # same architecture, other width: shapes differ
    with pytest.raises(UserError, match="does not fit the base model"):
        evaluate(str(tiny_run_dir), str(SUPPORT / "test.jsonl"), model=str(other), progress=False)
