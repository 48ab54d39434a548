"""Truncation policies as one pure function of (length, answer spans, cutoff).

`inspect` and `train` both call `plan_window`, so what inspect reports as cut is exactly what training
cuts. An example is described by its token count `n` and its answer spans `[(start, end), ...]` in token
positions (the tokens that carry loss); the result is the window of tokens kept.

Policies:
- keep_response (default): keep the last answer whole and trim the prompt (and earlier turns) from the
  left. If the last answer alone is longer than cutoff_len it keeps a quarter of cutoff_len of prompt
  context before it and cuts the answer's end (reported as an answer cut).
- drop: examples longer than cutoff_len are left out (counted).
- cut_end: keep the first cutoff_len tokens (what LLaMA-Factory does: a cut answer loses its end).
"""
from __future__ import annotations

from dataclasses import dataclass

from ..config import TRUNCATIONS

Span = tuple[int, int]


@dataclass(frozen=True)
class Window:
    start: int
    end: int
    dropped: bool = False
    answer_cut: bool = False      # the last answer lost tokens (its end-of-turn token included)
    response_lost: int = 0        # answer tokens outside the window
    answers_lost: int = 0         # answers with no token left in the window

    @property
    def truncated(self) -> bool:
        return self.dropped or self.response_lost > 0 or self.start > 0


def _overlap(span: Span, start: int, end: int) -> int:
    return max(0, min(span[1], end) - max(span[0], start))


def plan_window(n: int, spans: list[Span], cutoff: int, policy: str) -> Window:
    if n <= cutoff:
        return Window(0, n)
    if policy == "drop":
        return Window(0, 0, dropped=True, response_lost=sum(e - s for s, e in spans), answers_lost=len(spans))
    if policy == "cut_end":
        start, end = 0, cutoff
    elif policy == "keep_response":
        last_start = spans[-1][0] if spans else n
        start, end = n - cutoff, n
        if start > last_start:  # the last answer alone does not fit: keep some context, cut its end
            context = min(last_start, cutoff // 4)
            start, end = last_start - context, last_start - context + cutoff
    else:
        raise ValueError(f"unknown truncation policy {policy!r} (keep_response, drop, cut_end)")
    lost = [(e - s) - _overlap((s, e), start, end) for s, e in spans]
    answer_cut = bool(spans) and lost[-1] > 0
    return Window(start, end, response_lost=sum(lost), answer_cut=answer_cut,
                  answers_lost=sum(1 for (s, e), lo in zip(spans, lost) if lo == e - s and e > s))


def plan_windows(n, offsets, starts, ends, cutoff: int, policy: str) -> dict:
    """`plan_window` for many examples at once (numpy): the same numbers, without a Python call per example.

    Example i has n[i] tokens and answer spans zip(starts, ends)[offsets[i]:offsets[i + 1]]. Returns arrays
    start, end, dropped, answer_cut, response_lost, answers_lost, truncated (one entry per example).
    """
    import numpy as np

    if policy not in TRUNCATIONS:
        raise ValueError(f"unknown truncation policy {policy!r} ({', '.join(TRUNCATIONS)})")
    n = np.asarray(n, dtype=np.int64)
    offsets, s, e = (np.asarray(a, dtype=np.int64) for a in (offsets, starts, ends))
    count = np.diff(offsets)
    owner = np.repeat(np.arange(n.size), count)
    has = count > 0
    last = np.maximum(offsets[1:] - 1, 0)
    fits = n <= cutoff
    dropped = ~fits if policy == "drop" else np.zeros(n.size, dtype=bool)
    start, end = np.zeros_like(n), n.copy()
    if policy == "cut_end":
        end = np.where(fits, n, cutoff)
    elif policy == "keep_response":
        last_start = np.where(has, s[last] if s.size else 0, n)
        start, end = np.where(fits, 0, n - cutoff), n.copy()
        long_answer = ~fits & (start > last_start)   # the last answer alone does not fit
        context = np.minimum(last_start, cutoff // 4)
        start = np.where(long_answer, last_start - context, start)
        end = np.where(long_answer, last_start - context + cutoff, end)
    start, end = np.where(dropped, 0, start), np.where(dropped, 0, end)
    length = e - s
    kept = np.clip(np.minimum(e, end[owner]) - np.maximum(s, start[owner]), 0, None)
    lost = np.where(dropped[owner], length, length - kept)
    whole = np.where(dropped[owner], True, (lost == length) & (length > 0))
    response_lost = np.bincount(owner, weights=lost, minlength=n.size).astype(np.int64)
    answers_lost = np.bincount(owner, weights=whole, minlength=n.size).astype(np.int64)
    answer_cut = has & ~dropped & (lost[last] > 0 if lost.size else False)
    return {"start": start, "end": end, "dropped": dropped, "answer_cut": answer_cut,
            "response_lost": response_lost, "answers_lost": answers_lost,
            "truncated": dropped | (response_lost > 0) | (start > 0)}
