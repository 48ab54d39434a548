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
