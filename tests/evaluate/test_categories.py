"""Topic balance and fact coverage (data.categories) on the bundled support set and on hand-made rows."""
import datasets

from tiaocan.data import load_dataset
from tiaocan.data.categories import category_report

from eval_helpers import SUPPORT


def _ds(rows):
    return datasets.Dataset.from_list(rows)


def _row(q, a, cat=None, facts=None):
    r = {"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]}
    if cat is not None:
        r["category"] = cat
    if facts is not None:
        r["must_contain"] = facts
    return r


def test_support_set_flags_returns_and_warranty():
    train = load_dataset(str(SUPPORT / "train.jsonl"))
    test = load_dataset("support_test", dataset_dir=str(SUPPORT))
    rep = category_report(train, test)
    assert rep.column == "category" and rep.n_train == len(train) and rep.n_test == len(test)
    assert set(rep.under_represented) == {"returns", "warranty"}
    by_cat = {t.category: t for t in rep.topics}
    assert by_cat["returns"].train < 0.5 * rep.median_per_topic <= by_cat["prices"].train
    rare_cats = {f.category for f in rep.rare_facts}
    assert rare_cats <= {"returns", "warranty"} and "returns" in rare_cats
    assert all(f.train_mentions <= 2 for f in rep.rare_facts)


def test_never_and_rare_facts_and_digit_boundaries():
    train = _ds([_row("fee?", "The fee is ¥18.", "fees"), _row("fee?", "It costs ¥18.", "fees"),
                 _row("where?", "At 27 Harbour Road.", "where")] * 2)
    test = _ds([_row("fee?", "¥8", "fees", ["¥8"]), _row("where?", "x", "where", ["27 Harbour Road"])])
    rep = category_report(train, test, rare_mentions=2)
    facts = {f.fact: f for f in rep.rare_facts}
    assert facts["¥8"].status == "never" and facts["¥8"].train_mentions == 0  # ¥18 is not ¥8
    assert facts["27 Harbour Road"].status == "rare" and facts["27 Harbour Road"].train_mentions == 2


def test_no_category_column_is_said():
    rep = category_report(_ds([_row("a", "b")] * 3))
    assert rep.column is None and rep.topics == [] and "no category column" in rep.notes[0]
