"""`tiaocan eval`: held-out loss, greedy answers, per-example checks, per-category scores, data advice."""
from __future__ import annotations

import statistics
from pathlib import Path
from typing import Callable, Optional

from ..data import load_dataset
from ..data.categories import FACTS_COLUMN, category_column, category_report, row_facts
from ..errors import UserError
from .advice import data_advice
from .checks import check_answer
from .generate import auto_max_new_tokens, generate_answers
from .loss import heldout_loss, perplexity
from .results import CategoryScores, EvalReport, ExampleResult, ModelEval, Scores


def split_row(messages: list[dict]) -> tuple[list[dict], Optional[str]]:
    """(prompt messages, reference answer or None). The last assistant turn is the one evaluated."""
    if messages and messages[-1].get("role") == "assistant":
        return messages[:-1], messages[-1].get("content") or None
    return messages, None


def aggregate(examples: list[ExampleResult]) -> Scores:
    judged = [e for e in examples if e.checks.passed is not None]
    facts_total = sum(e.checks.facts_total for e in examples)

    def mean(key: str) -> Optional[float]:
        vals = [getattr(e.checks, key) for e in examples if getattr(e.checks, key) is not None]
        return round(statistics.fmean(float(v) for v in vals), 4) if vals else None

    passed = sum(1 for e in judged if e.checks.passed)
    return Scores(n=len(examples), n_judged=len(judged), passed=passed,
                  pass_rate=round(passed / len(judged), 4) if judged else None,
                  fact_accuracy=round(sum(e.checks.facts_found for e in examples) / facts_total, 4) if facts_total else None,
                  exact_match=mean("exact_match"), chrf=mean("chrf"), rouge_l=mean("rouge_l"),
                  keyword_coverage=mean("keyword_coverage"))


def evaluate_model(model, tokenizer, test_ds, label: str = "model", cutoff_len: int = 1024,
                   truncation: str = "keep_response", max_new_tokens: Optional[int] = None, batch_size: int = 16,
                   min_similarity: float = 0.5, progress: bool = True, train_counts: Optional[dict] = None,
                   on_batch: Optional[Callable[[int], None]] = None) -> ModelEval:
    """Evaluate an in-memory model on a loaded test Dataset (what the tuner calls per trial).

    `ModelEval.scores.fact_accuracy` is the share of must-contain facts found in the greedy answers.
    """
    column = category_column(test_ds)
    rows = [split_row(list(m)) for m in test_ds["messages"]]
    cats = test_ds[column] if column else [None] * len(test_ds)
    langs = test_ds["lang"] if "lang" in test_ds.column_names else [None] * len(test_ds)
    facts = test_ds[FACTS_COLUMN] if FACTS_COLUMN in test_ds.column_names else [None] * len(test_ds)
    if max_new_tokens is None:
        max_new_tokens = auto_max_new_tokens(tokenizer, [ref for _, ref in rows])
    loss, per_row_loss, n_loss = heldout_loss(model, tokenizer, test_ds, cutoff_len, truncation)
    answers, seconds = generate_answers(model, tokenizer, [p for p, _ in rows], max_new_tokens, batch_size,
                                        progress, desc=f"generating answers ({label})", on_batch=on_batch)
    examples = []
    for i, ((prompt, ref), got) in enumerate(zip(rows, answers)):
        user = next((m["content"] for m in reversed(prompt) if m.get("role") == "user"), "")
        examples.append(ExampleResult(index=i, category=None if cats[i] in (None, "") else str(cats[i]), lang=langs[i],
                                      prompt=user, expected=ref, got=got, loss=per_row_loss[i],
                                      checks=check_answer(ref, got, row_facts(facts[i]), min_similarity)))
    by_cat: dict[str, list[ExampleResult]] = {}
    for e in examples:
        by_cat.setdefault(e.category or "(none)", []).append(e)
    categories = [CategoryScores(category=c, train_examples=(train_counts or {}).get(c), scores=aggregate(ex))
                  for c, ex in sorted(by_cat.items())] if column else []
    return ModelEval(model=label, loss=None if loss is None else round(loss, 4),
                     perplexity=None if loss is None else round(perplexity(loss), 3), loss_examples=n_loss,
                     scores=aggregate(examples), categories=categories, examples=examples,
                     seconds_generation=round(seconds, 2),
                     examples_per_second=round(len(examples) / seconds, 3) if seconds > 0 else None)


def _load_train_for_counts(train: Optional[str], cfg, notes: list[str]):
    """The training data (to count topics and facts): --train, else the run's recorded dataset."""
    spec, ddir = train, "data"
    if spec is None and cfg is not None and cfg.dataset:
        spec, ddir = cfg.dataset, cfg.dataset_dir
    if spec is None:
        notes.append("training data unknown (no run config, no --train): advice cannot compare topic sizes")
        return None
    try:
        return load_dataset(spec, dataset_dir=ddir)
    except UserError as e:
        notes.append(f"could not read the training data '{spec}' ({e}); pass --train PATH for topic counts")
        return None


def evaluate(target: str, test: str, base: bool = False, model: Optional[str] = None, train: Optional[str] = None,
             dataset_dir: Optional[str] = None, max_samples: Optional[int] = None, max_new_tokens: Optional[int] = None,
             batch_size: int = 16, cutoff_len: Optional[int] = None, min_similarity: float = 0.5,
             progress: bool = True, seed: int = 0) -> EvalReport:
    """Evaluate a run dir / model on a test set; with `base`, the base model too (side by side)."""
    from ..data.load import EXTENSIONS, split_spec
    from ..textio import check_readable
    from .loading import load_base_for_comparison, load_target

    for part in split_spec(test):  # a missing test file is said before the model loads (a minute on a big model)
        if Path(part).suffix.lower() in EXTENSIONS:
            check_readable(part, "--test file")
    loaded = load_target(target, base_model=model)
    cfg = loaded.config
    ddir = dataset_dir or (cfg.dataset_dir if cfg else "data")
    test_ds = load_dataset(test, dataset_dir=ddir, max_samples=max_samples, seed=seed if max_samples else None,
                           require_answer=False)
    if len(test_ds) == 0:
        raise UserError(f"the test set {test} has no rows")
    notes: list[str] = []
    refs = [split_row(list(m))[1] for m in test_ds["messages"]]
    if not any(refs):
        notes.append("no test row ends with an assistant answer: loss, similarity and exact match cannot be computed; "
                     "only must_contain facts (if any) are checked")
    elif not all(refs):
        notes.append(f"{sum(1 for r in refs if not r)} test rows have no reference answer: generated, not scored on loss")
    no_facts = sum(1 for f in (test_ds[FACTS_COLUMN] if FACTS_COLUMN in test_ds.column_names else [None] * len(test_ds))
                   if not row_facts(f))
    if no_facts:
        notes.append(f"{no_facts} test rows have no must_contain facts: they pass on similarity (chrF >= {min_similarity})")
    train_ds = _load_train_for_counts(train, cfg, notes)
    cat_report = category_report(train_ds, test_ds) if train_ds is not None else None
    counts = {t.category: t.train for t in cat_report.topics} if cat_report else None
    kwargs = dict(cutoff_len=cutoff_len or (cfg.cutoff_len if cfg else 1024),
                  truncation=cfg.truncation if cfg else "keep_response", batch_size=batch_size,
                  min_similarity=min_similarity, progress=progress, train_counts=counts,
                  max_new_tokens=max_new_tokens or auto_max_new_tokens(loaded.tokenizer, refs))
    tuned = evaluate_model(loaded.model, loaded.tokenizer, test_ds, label=str(target), **kwargs)
    base_eval = None
    if base:
        base_label = loaded.base_name or "base"
        other = load_base_for_comparison(loaded)
        if other is None:  # an adapter: switching it off gives the base model exactly, without a second copy
            with loaded.model.disable_adapter():
                base_eval = evaluate_model(loaded.model, loaded.tokenizer, test_ds, label=base_label, **kwargs)
        else:
            base_eval = evaluate_model(other, loaded.tokenizer, test_ds, label=base_label, **kwargs)
    return EvalReport(target=str(target), test_file=str(Path(test)), n_test=len(test_ds),
                      category_column=category_column(test_ds), tuned=tuned, base=base_eval,
                      advice=data_advice(tuned, cat_report, base_eval), notes=notes)
