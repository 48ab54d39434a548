"""Failures grouped by category → what data to add or fix.

The rules are the practitioner's loop written down: a topic that fails and has few training rows
needs more rows; a fact the model misses that the training answers rarely state needs answers that
state it; a topic that fails despite plenty of rows points at inconsistent answers or too little
training; a topic the base model answered better than the tuned one was damaged by tuning.
"""
from __future__ import annotations

import math
from collections import Counter, defaultdict
from typing import Optional

from ..data.categories import NO_CATEGORY, CategoryReport
from .results import Advice, ExampleResult, ModelEval

WEAK_FAILURE_RATE = 0.5  # a topic failing at least this often is worth a look even with enough data …
STANDS_OUT = 0.15        # … if it also fails clearly more often than the test set as a whole
UNDERTRAINED_FAILURE_RATE = 0.8  # most rows of every kind fail: a training problem, not a data gap
MAX_FACT_ADVICE = 8      # keep the report readable: the worst facts first


def _by_category(examples: list[ExampleResult]) -> dict[str, list[ExampleResult]]:
    groups: dict[str, list[ExampleResult]] = defaultdict(list)
    for e in examples:
        groups[e.category or NO_CATEGORY].append(e)
    return groups


def data_advice(tuned: ModelEval, categories: Optional[CategoryReport] = None,
                base: Optional[ModelEval] = None) -> list[Advice]:
    out: list[Advice] = []
    groups = _by_category(tuned.examples)
    total_failures = sum(1 for e in tuned.examples if e.checks.passed is False)
    n_judged = sum(1 for e in tuned.examples if e.checks.passed is not None)
    overall_rate = total_failures / n_judged if n_judged else 0.0
    median = categories.median_per_topic if categories else None
    if n_judged and overall_rate >= UNDERTRAINED_FAILURE_RATE:
        # Everything fails: no topic stands out, the model simply has not learned the data (yet).
        out.append(Advice(kind="undertrained", message=(
            f"{total_failures} of {n_judged} test rows fail across all topics: the model has not learned the "
            "facts yet; train longer (more epochs) or with a higher learning rate / LoRA rank, and check the "
            "loss curve with `tiaocan diagnose`")))
    ranked = sorted(groups.items(), key=lambda kv: -sum(1 for e in kv[1] if e.checks.passed is False))
    for cat, examples in ranked:
        judged = [e for e in examples if e.checks.passed is not None]
        failed = [e for e in judged if e.checks.passed is False]
        if not failed:
            continue
        label = f"topic '{cat}'" if cat != NO_CATEGORY else "rows without a category"
        n_train = categories.train_count(cat) if categories and categories.column else None
        under = categories is not None and cat in categories.under_represented
        if n_train is not None and median and (under or n_train == 0):
            more = max(1, math.ceil(median - n_train))
            out.append(Advice(category=cat, kind="add_examples", message=(
                f"{label} has {n_train} training examples vs {median:g} median and {len(failed)} of "
                f"{total_failures} test failures ({len(failed)}/{len(judged)} of its test rows fail): "
                f"add examples (about {more} more to reach the median), in every language you test")))
        elif (len(failed) / max(1, len(judged)) >= max(WEAK_FAILURE_RATE, overall_rate + STANDS_OUT)
              and len(groups) > 1):
            have = f" although it has {n_train} training examples" if n_train else ""
            out.append(Advice(category=cat, kind="weak_category", message=(
                f"{label} fails {len(failed)} of {len(judged)} test rows{have}: check that its training "
                "answers agree with each other and with the test facts, then train longer "
                "(more epochs) or with a higher learning rate / LoRA rank")))
    out += _fact_advice(tuned, categories)
    if base is not None:
        out += _gain_advice(tuned, base)
    return out


def _fact_advice(tuned: ModelEval, categories: Optional[CategoryReport]) -> list[Advice]:
    """Missed facts that the training answers rarely or never state."""
    missed: Counter = Counter()
    cat_of: dict[str, Optional[str]] = {}
    for e in tuned.examples:
        for fact in e.checks.missing_facts:
            missed[fact] += 1
            cat_of.setdefault(fact, e.category)
    if not missed or categories is None:
        return []
    coverage = {f.fact: f for f in categories.rare_facts}
    rows = []
    for fact, n_missed in missed.most_common():
        cov = coverage.get(fact)
        if cov is None:
            continue
        where = f" ({cat_of[fact]})" if cat_of.get(fact) else ""
        stated = "no training answer states it" if cov.train_mentions == 0 else \
            f"only {cov.train_mentions} training answer{'s' if cov.train_mentions > 1 else ''} state{'' if cov.train_mentions > 1 else 's'} it"
        rows.append(Advice(category=cat_of.get(fact), kind="rare_fact", message=(
            f"fact '{fact}'{where} was missed in {n_missed} test answer{'s' if n_missed > 1 else ''}; {stated}: "
            "add training answers (several phrasings of the question) that state it")))
    return rows[:MAX_FACT_ADVICE]


def _gain_advice(tuned: ModelEval, base: ModelEval) -> list[Advice]:
    out: list[Advice] = []
    t, b = tuned.scores, base.scores
    if t.fact_accuracy is not None and b.fact_accuracy is not None and t.fact_accuracy <= b.fact_accuracy:
        out.append(Advice(kind="no_gain", message=(
            f"tuning did not improve fact accuracy (base {b.fact_accuracy:.0%}, tuned {t.fact_accuracy:.0%}): "
            "the model has not learned the facts yet: train longer or with a higher learning rate; "
            "run `tiaocan diagnose` on the run to see whether the loss was still falling")))
    base_groups = _by_category(base.examples)
    for cat, examples in _by_category(tuned.examples).items():
        tuned_pass = sum(1 for e in examples if e.checks.passed)
        base_pass = sum(1 for e in base_groups.get(cat, []) if e.checks.passed)
        if base_pass > tuned_pass:
            out.append(Advice(category=cat, kind="regression", message=(
                f"topic '{cat}': the base model passed {base_pass} of {len(examples)}, the tuned model {tuned_pass}: "
                "tuning made it worse; look for training answers that contradict the test facts, "
                "or lower the learning rate / epochs (forgetting)")))
    return out
