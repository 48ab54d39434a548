"""`inspect`: how long are the examples, what cutoff_len to use, what gets cut, and what is wrong with the data.

One streaming pass (datasets.map writes Arrow to disk; only per-example numbers come back into RAM):
the same `tokenize_conversations` that training uses, plus cheap text statistics (duplicates, empty
answers, language). Everything after that is numpy on the length and span columns; truncation at each
cutoff is `truncate.plan_windows`, the vectorised `plan_window` that training applies per example.
"""
from __future__ import annotations

import gc
import hashlib
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from ..config import check_window
from ..models import context_length, load_model_config, load_tokenizer
from .load import load_dataset, quiet_progress
from .render import tokenize_conversations
from .truncate import plan_windows

MULTIPLE = 64
COVERAGE = 0.99


class LengthStats(BaseModel):
    min: int
    mean: float
    p50: float
    p90: float
    p95: float
    p99: float
    max: int
    total: int

    @classmethod
    def of(cls, a: np.ndarray) -> "LengthStats":
        if a.size == 0:
            return cls(min=0, mean=0, p50=0, p90=0, p95=0, p99=0, max=0, total=0)
        q = np.percentile(a, [50, 90, 95, 99])
        return cls(min=int(a.min()), mean=round(float(a.mean()), 1), p50=float(q[0]), p90=float(q[1]),
                   p95=float(q[2]), p99=float(q[3]), max=int(a.max()), total=int(a.sum()))


class CutoffOption(BaseModel):
    cutoff_len: int
    examples_whole_pct: float = Field(description="Share of examples that fit whole.")
    response_tokens_lost_pct: float
    tokens_trained: int = Field(description="Tokens per epoch after truncation (compute cost).")
    relative_memory: float = Field(description="Activation memory per sequence relative to the recommended cutoff.")


class CutoffImpact(BaseModel):
    cutoff_len: int
    truncation: str
    examples_cut: int
    examples_dropped: int
    answers_cut: int = Field(description="Examples whose last answer loses tokens (its end-of-turn included).")
    response_tokens_lost: int
    response_tokens_lost_pct: float
    whole_answer_lost: list[int] = Field(description="First examples (1-based) that lose a whole answer.")
    no_trainable_tokens: int


class DataProblems(BaseModel):
    empty_responses: int
    empty_response_examples: list[int]
    duplicates: int
    duplicate_examples: list[list[int]]
    languages: dict[str, float]
    mixed_languages: bool = Field(description="A problem: a second language at 10-20 % of the examples, too few to "
                                              "learn it well and many for strays (a multilingual set is not flagged).")
    multilingual: bool = Field(False, description="Information: two or more languages, each in >= 20 % of the "
                                                  "examples (a deliberately bilingual set).")


class DataReport(BaseModel):
    data: str
    model: str
    num_examples: int
    num_turns_mean: float
    multi_turn_examples: int
    full: LengthStats
    prompt: LengthStats
    response: LengthStats
    model_context: int
    recommended_cutoff_len: int
    recommended_coverage_pct: float
    alternatives: list[CutoffOption]
    at_cutoff: CutoffImpact
    problems: DataProblems
    categories: dict[str, Any] | None = None
    plot: str | None = None

    @property
    def total_tokens(self) -> int:
        return self.full.total

    @property
    def total_response_tokens(self) -> int:
        return self.response.total


WELL_REPRESENTED = 0.2  # share of the examples from which a language counts as deliberately included
_LETTER = re.compile(r"[^\W\d_]")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
_LATIN = re.compile(r"[A-Za-z]")


def _lang(text: str) -> str:
    """Coarse language by script on the first 400 characters (regexes run in C; enough to tell en/zh/other)."""
    text = text[:400]
    if text.isascii():  # the common case, decided in C without a regex
        return "en" if _LATIN.search(text) else "none"
    letters = len(_LETTER.findall(text))
    if not letters:
        return "none"
    if len(_CJK.findall(text)) / letters > 0.3:
        return "zh"
    return "en" if len(_LATIN.findall(text)) / letters > 0.7 else "other"


def _inspect_batch(batch: dict[str, list], model: str) -> dict[str, list]:
    """datasets.map function: token counts and answer spans (the tokenization training uses) + text checks."""
    # A batch allocates ~100k small acyclic objects (messages, pieces, lists), each of which would otherwise
    # trigger cyclic-GC passes over everything alive: 10-25 % of the batch's CPU time. Refcounting frees them.
    enabled = gc.isenabled()
    gc.disable()
    try:
        # by name, from load_tokenizer's cache: forked map workers inherit it (spawned ones load it once);
        # passing the tokenizer in fn_kwargs would pickle and hash it per worker, seconds on 100k examples
        return _inspect_batch_columns(batch, load_tokenizer(model))
    finally:
        if enabled:
            gc.enable()


def _inspect_batch_columns(batch: dict[str, list], tokenizer) -> dict[str, list]:
    convs = batch["messages"]
    cols: dict[str, list] = {k: [] for k in ("n_tokens", "n_response", "span_start", "span_end",
                                              "digest", "empty_response", "lang")}
    for r in tokenize_conversations(tokenizer, convs, with_ids=False):
        spans = r["spans"]
        cols["n_tokens"].append(r["n_tokens"])
        cols["n_response"].append(sum(e - s for s, e in spans))
        cols["span_start"].append([s for s, _ in spans])
        cols["span_end"].append([e for _, e in spans])
    for msgs in convs:
        # length-prefixed role:content records: unambiguous, cheaper than JSON
        canon = "\0".join([f"{m['role']}:{len(m['content'] or '')}:{m['content'] or ''}" for m in msgs])
        cols["digest"].append(hashlib.blake2b(canon.encode(), digest_size=12).digest())
        cols["empty_response"].append(any(m["role"] == "assistant" and not (m["content"] or "").strip() for m in msgs))
        cols["lang"].append(_lang(" ".join([m["content"] or "" for m in msgs if m["role"] != "system"])))
    return cols


def recommend_cutoff(n_tokens: np.ndarray, context: int) -> int:
    """Smallest multiple of 64 that keeps >= 99 % of examples whole, never above the model's context."""
    need = float(np.quantile(n_tokens, COVERAGE, method="higher")) if n_tokens.size else MULTIPLE
    return int(min(context, max(MULTIPLE, -(-int(need) // MULTIPLE) * MULTIPLE)))


def _impact(n: np.ndarray, spans: tuple, cutoff: int, policy: str) -> tuple[CutoffImpact, np.ndarray]:
    w = plan_windows(n, *spans, cutoff, policy)
    lost = w["response_lost"]
    whole_lost = np.flatnonzero((w["answers_lost"] > 0) & ~w["dropped"])[:10] + 1
    return CutoffImpact(
        cutoff_len=cutoff, truncation=policy,
        examples_cut=int((w["truncated"] & ~w["dropped"]).sum()), examples_dropped=int(w["dropped"].sum()),
        answers_cut=int(w["answer_cut"].sum()), response_tokens_lost=int(lost.sum()), response_tokens_lost_pct=0.0,
        whole_answer_lost=[int(i) for i in whole_lost], no_trainable_tokens=0,
    ), lost


def _flat_spans(table) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(offsets, starts, ends) of the per-example answer spans, straight from the Arrow columns."""
    starts = table.column("span_start").combine_chunks()
    ends = table.column("span_end").combine_chunks()
    offsets = np.concatenate([[0], np.cumsum(starts.value_lengths().to_numpy(zero_copy_only=False))])
    return (offsets, starts.flatten().to_numpy(zero_copy_only=False), ends.flatten().to_numpy(zero_copy_only=False))


def inspect_data(data: str, model: str = "smollm2-135m", cutoff_len: int | None = None,
                 truncation: str = "keep_response", dataset_dir: str = "data", formatting: str = "auto",
                 plot: str | Path | None = None, test: str | None = None, num_proc: int | None = None) -> DataReport:
    """Token-length statistics, cutoff_len advice and data problems for `data` under `model`'s chat template."""
    check_window(cutoff_len, truncation)
    load_tokenizer(model)  # cached before the map so that its workers inherit it (and a bad model path fails early)
    context = context_length(load_model_config(model))
    quiet_progress(True)
    ds = load_dataset(data, dataset_dir=dataset_dir, formatting=formatting)
    quiet_progress(len(ds) < 20_000)
    if num_proc is None and len(ds) >= 20_000:
        num_proc = min(2, os.cpu_count() or 1)
    num_proc = num_proc if num_proc and num_proc > 1 else None  # 0/1: in this process, no worker pool
    stats = ds.map(_inspect_batch, batched=True, batch_size=1000, num_proc=num_proc,
                   remove_columns=ds.column_names, desc="tokenizing", load_from_cache_file=False,
                   fn_kwargs=dict(model=model))
    col = stats.data.column  # read whole Arrow columns at once (row iteration is slow)
    n = col("n_tokens").to_numpy().astype(np.int64)
    resp = col("n_response").to_numpy().astype(np.int64)
    spans = _flat_spans(stats.data)
    turns = np.diff(spans[0])
    recommended = recommend_cutoff(n, context)
    cutoff = cutoff_len or recommended

    impact, lost = _impact(n, spans, cutoff, truncation)
    total_resp = int(resp.sum())
    impact.response_tokens_lost_pct = round(100.0 * impact.response_tokens_lost / max(1, total_resp), 2)
    impact.no_trainable_tokens = int(((resp - lost) <= 0).sum())

    alternatives = []
    candidates = sorted({c for c in (recommended // 2, recommended, 2 * recommended,
                                     -(-int(np.percentile(n, 90)) // MULTIPLE) * MULTIPLE, cutoff) if MULTIPLE <= c <= context})
    for c in candidates:
        _, lost_c = _impact(n, spans, c, truncation)
        alternatives.append(CutoffOption(
            cutoff_len=c, examples_whole_pct=round(100.0 * float((n <= c).mean()), 2),
            response_tokens_lost_pct=round(100.0 * float(lost_c.sum()) / max(1, total_resp), 2),
            tokens_trained=int(np.minimum(n, c).sum()), relative_memory=round(c / recommended, 2)))

    digests = col("digest").to_pylist()
    first_seen: dict[str, int] = {}
    dup_groups: dict[str, list[int]] = {}
    for i, d in enumerate(digests):
        if d in first_seen:
            dup_groups.setdefault(d, [first_seen[d] + 1]).append(i + 1)
        else:
            first_seen[d] = i
    empty = [i + 1 for i, e in enumerate(col("empty_response").to_pylist()) if e]
    langs = col("lang").to_pylist()
    shares = {k: round(langs.count(k) / len(langs), 3) for k in sorted(set(langs))}
    major = [k for k, v in shares.items() if k in ("en", "zh", "other") and v >= 0.1]
    # Both languages well represented (>= 20 % each) is a bilingual set on purpose: information, not a problem.
    multilingual = len(major) > 1 and all(shares[k] >= WELL_REPRESENTED for k in major)
    problems = DataProblems(
        empty_responses=len(empty), empty_response_examples=empty[:10],
        duplicates=sum(len(g) - 1 for g in dup_groups.values()),
        duplicate_examples=list(dup_groups.values())[:10], languages=shares,
        mixed_languages=len(major) > 1 and not multilingual, multilingual=multilingual)

    categories = None
    if "category" in ds.column_names or "topic" in ds.column_names:
        categories = _categories(ds, test, dataset_dir, formatting)

    report = DataReport(
        data=data, model=model, num_examples=len(ds), num_turns_mean=round(float(turns.mean()), 2) if len(turns) else 0.0,
        multi_turn_examples=int((turns > 1).sum()), full=LengthStats.of(n), prompt=LengthStats.of(n - resp),
        response=LengthStats.of(resp), model_context=context, recommended_cutoff_len=recommended,
        recommended_coverage_pct=round(100.0 * float((n <= recommended).mean()), 2), alternatives=alternatives,
        at_cutoff=impact, problems=problems, categories=categories)
    if plot:
        from .plots import length_histogram
        report.plot = str(length_histogram(n, n - resp, resp, cutoff, Path(plot)))
    return report


def _categories(ds, test: str | None, dataset_dir: str, formatting: str) -> dict[str, Any]:
    """Topic balance and fact coverage (tiaocan.data.categories)."""
    from .categories import category_report

    test_ds = load_dataset(test, dataset_dir=dataset_dir, formatting=formatting, require_answer=False) if test else None
    return category_report(ds, test_ds).model_dump(mode="json")
