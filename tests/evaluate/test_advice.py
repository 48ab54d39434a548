"""Data advice from hand-made results: thin topics, topics that stand out, regressions against the base."""
from tiaocan.data.categories import CategoryReport, FactCoverage, TopicCount
from tiaocan.evaluation.advice import data_advice
from tiaocan.evaluation.checks import check_answer
from tiaocan.evaluation.results import ExampleResult, ModelEval
from tiaocan.evaluation.run import aggregate


def _ev(rows):
    """rows: (category, fact, answer) → a ModelEval whose checks are real check_answer results."""
    ex = [ExampleResult(index=i, category=c, prompt="q", expected=f"... {f} ...", got=a, checks=check_answer(f"... {f} ...", a, [f]))
          for i, (c, f, a) in enumerate(rows)]
    return ModelEval(model="m", scores=aggregate(ex), examples=ex)


def _cats(counts, rare=()):
    median = sorted(counts.values())[len(counts) // 2]
    topics = [TopicCount(category=c, train=n, share=0, vs_median=n / median, under_represented=n < median / 2)
              for c, n in counts.items()]
    return CategoryReport(column="category", n_train=sum(counts.values()), median_per_topic=median, topics=topics,
                          under_represented=[t.category for t in topics if t.under_represented],
                          rare_facts=[FactCoverage(fact=f, category=c, train_mentions=1, test_examples=1, status="rare")
                                      for c, f in rare])


def test_thin_failing_topic_gets_add_examples_and_its_rare_fact():
    rows = [("prices", "¥68", "It costs ¥68.")] * 8 + [("hours", "9:00", "From 9:00.")] * 8 + \
           [("returns", "7 days", "Any time."), ("returns", "7 days", "Within 7 days."), ("returns", "15 days", "No.")]
    advice = data_advice(_ev(rows), _cats({"prices": 40, "hours": 30, "returns": 6}, rare=[("returns", "15 days")]))
    add = [a for a in advice if a.kind == "add_examples"]
    assert [a.category for a in add] == ["returns"]
    assert "6 training examples vs 30 median and 2 of 2 test failures" in add[0].message
    assert any(a.kind == "rare_fact" and "'15 days'" in a.message for a in advice)
    assert not any(a.kind in ("weak_category", "undertrained") for a in advice)


def test_topic_that_stands_out_with_enough_data_is_weak_and_all_failing_is_undertrained():
    rows = [("prices", "¥68", "It costs ¥68.")] * 6 + [("hours", "9:00", "Noon.")] * 4
    advice = data_advice(_ev(rows), _cats({"prices": 40, "hours": 30}))
    assert [(a.kind, a.category) for a in advice] == [("weak_category", "hours")]
    everything_fails = data_advice(_ev([("prices", "¥68", "?")] * 5 + [("hours", "9:00", "?")] * 5), _cats({"prices": 40, "hours": 30}))
    assert [a.kind for a in everything_fails] == ["undertrained"]


def test_base_comparison_flags_no_gain_and_regression():
    tuned = _ev([("prices", "¥68", "¥68")] + [("hours", "9:00", "noon")] * 2)
    base = _ev([("prices", "¥68", "¥68")] + [("hours", "9:00", "9:00")] * 2)
    kinds = {(a.kind, a.category) for a in data_advice(tuned, None, base)}
    assert ("no_gain", None) in kinds and ("regression", "hours") in kinds
