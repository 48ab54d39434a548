"""Topic balance of a dataset and coverage of the test set's must-contain facts in the training answers.

`category_report(train_ds, test_ds)` answers two questions practitioners ask before (re)training a
support assistant: which topics have too few examples compared with the others, and which facts the
test expects (address, phone, price, days …) that the training answers never or rarely state — the
model cannot learn a fact it has not seen.
"""
from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from typing import Any, Optional

from pydantic import BaseModel, Field

CATEGORY_COLUMNS = ("category", "topic")
FACTS_COLUMN = "must_contain"
NO_CATEGORY = "(none)"


class TopicCount(BaseModel):
    category: str
    train: int
    test: int = 0
    share: float = Field(description="Share of the training rows.")
    vs_median: float = Field(description="Training rows / median training rows per topic.")
    under_represented: bool


class FactCoverage(BaseModel):
    fact: str
    category: Optional[str] = None
    train_mentions: int = Field(description="Training answers that contain the fact.")
    test_examples: int = Field(description="Test rows that require the fact.")
    status: str = Field(description="'never' or 'rare'.")


class CategoryReport(BaseModel):
    """Result of `category_report`: shown by `tiaocan inspect`, used by `tiaocan eval` for its advice."""

    column: Optional[str] = Field(None, description="The category column found (category / topic), or None.")
    n_train: int
    n_test: int = 0
    median_per_topic: Optional[float] = None
    topics: list[TopicCount] = Field(default_factory=list)
    under_represented: list[str] = Field(default_factory=list)
    rare_facts: list[FactCoverage] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)

    def train_count(self, category: Optional[str]) -> Optional[int]:
        for t in self.topics:
            if t.category == (category or NO_CATEGORY):
                return t.train
        return None if self.column is None else 0


def category_column(ds) -> Optional[str]:
    names = set(getattr(ds, "column_names", None) or [])
    return next((c for c in CATEGORY_COLUMNS if c in names), None)


def _categories(ds, column: Optional[str]) -> list[str]:
    if column is None:
        return [NO_CATEGORY] * len(ds)
    return [str(v).strip() if v not in (None, "") else NO_CATEGORY for v in ds[column]]


def answer_texts(ds) -> list[str]:
    """All assistant text of each row (multi-turn rows joined), the place a fact has to appear."""
    return ["\n".join(m.get("content") or "" for m in msgs if m.get("role") == "assistant") for msgs in ds["messages"]]


def row_facts(value: Any) -> list[str]:
    """must_contain cell → list of facts (accepts a list, or a single string)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value] if value.strip() else []
    return [str(v) for v in value if v is not None and str(v).strip()]


def category_report(train_ds, test_ds=None, under_ratio: float = 0.5, rare_mentions: int = 2) -> CategoryReport:
    """Topic counts and balance of `train_ds`; with `test_ds`, test counts and fact coverage.

    A topic is under-represented when it has fewer than `under_ratio` x the median rows per topic. A fact
    is 'rare' when at most `rare_mentions` training answers state it, 'never' when none does.
    """
    from ..evaluation.checks import fact_found

    column = category_column(train_ds) or (category_column(test_ds) if test_ds is not None else None)
    report = CategoryReport(column=column, n_train=len(train_ds), n_test=len(test_ds) if test_ds is not None else 0)
    train_cats = _categories(train_ds, column if column in train_ds.column_names else None)
    train_counts = Counter(train_cats)
    test_counts: Counter = Counter()
    if test_ds is not None:
        test_counts = Counter(_categories(test_ds, column if column in test_ds.column_names else None))
    if column is None:
        report.notes.append(f"no category column ({' / '.join(CATEGORY_COLUMNS)}): add one per row to see "
                            "topic balance and per-topic results")
    else:
        present = [n for c, n in train_counts.items() if c != NO_CATEGORY] or list(train_counts.values())
        median = float(statistics.median(present)) if present else 0.0
        report.median_per_topic = median
        for cat in sorted(set(train_counts) | set(test_counts), key=lambda c: (-train_counts[c], c)):
            n = train_counts[cat]
            under = cat != NO_CATEGORY and median > 0 and n < under_ratio * median
            report.topics.append(TopicCount(category=cat, train=n, test=test_counts[cat],
                                            share=round(n / max(1, len(train_ds)), 4),
                                            vs_median=round(n / median, 3) if median else 0.0,
                                            under_represented=under))
        report.under_represented = [t.category for t in report.topics if t.under_represented]
        if train_counts.get(NO_CATEGORY):
            report.notes.append(f"{train_counts[NO_CATEGORY]} training rows have no {column}")
    if test_ds is not None:
        report.rare_facts = _fact_coverage(train_ds, test_ds, column, rare_mentions, fact_found)
        if FACTS_COLUMN not in test_ds.column_names:
            report.notes.append(f"the test set has no '{FACTS_COLUMN}' column: no fact coverage to check")
    return report


def _fact_coverage(train_ds, test_ds, column, rare_mentions, fact_found) -> list[FactCoverage]:
    if FACTS_COLUMN not in test_ds.column_names:
        return []
    need: Counter = Counter()
    where: dict[str, Counter] = defaultdict(Counter)
    test_cats = _categories(test_ds, column if column in test_ds.column_names else None)
    for facts, cat in zip(test_ds[FACTS_COLUMN], test_cats):
        for fact in dict.fromkeys(row_facts(facts)):
            need[fact] += 1
            where[fact][cat] += 1
    answers = answer_texts(train_ds)
    out = []
    for fact, n_test in need.items():
        mentions = sum(1 for a in answers if fact_found(fact, a))
        if mentions <= rare_mentions:
            cat = where[fact].most_common(1)[0][0]
            out.append(FactCoverage(fact=fact, category=None if cat == NO_CATEGORY else cat, train_mentions=mentions,
                                    test_examples=n_test, status="never" if mentions == 0 else "rare"))
    out.sort(key=lambda f: (f.train_mentions, -f.test_examples, f.fact))
    return out
