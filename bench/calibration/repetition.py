"""Answer repetition: how much of each training answer recurs, word for word, in the other answers.

A data feature plan time could read off a training file, tried as a term of the learning-rate rule (fit.py
DATA_FORMS) and not shipped: see bench/RESULTS.md "calibration", session 13. A support set that paraphrases a few
dozen facts repeats its answers (the suite's `support`: 0.66 of each answer's 16-character pieces recur elsewhere);
chit-chat, FAQ and ShareGPT answers hardly do (0.04-0.09); class labels always do (`chatter_topic`: 1.00). The idea:
where answers repeat, held-out answers are recall of trained ones, fitting the training answers harder keeps paying,
and the best learning rate stays high (the support tasks' best lr sat x1.3-2.6 above the rule).

Pieces are character 16-grams, so the measure is the same for Chinese and English (16 characters is a phrase in
either: shorter pieces count common words as repetition). An answer shorter than a piece is one piece (a label).
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

PIECE = 16
# Beyond this many characters in all (a few thousand long answers) each answer is read up to its share of the cap:
# the measure is a mean over answers, and a prefix of each keeps every answer in it at a bounded cost.
MAX_CHARS = 2_000_000


def _pieces(text: str) -> set[int]:
    text = " ".join(text.lower().split())
    if len(text) <= PIECE:
        return {hash(text)} if text else set()
    return {hash(text[i:i + PIECE]) for i in range(len(text) - PIECE + 1)}


def answer_repetition(answers: Iterable[str]) -> float | None:
    """Mean over answers of the share of the answer's pieces that occur in at least one other answer (0: every
    answer is new text; 1: every answer is said elsewhere too). None for fewer than 2 non-empty answers."""
    texts = [a for a in answers if a and a.strip()]
    if len(texts) < 2:
        return None
    total = sum(len(a) for a in texts)
    if total > MAX_CHARS:
        keep = max(PIECE * 4, MAX_CHARS // len(texts))
        texts = [a[:keep] for a in texts]
    pieces = [_pieces(a) for a in texts]
    counts = Counter(p for ps in pieces for p in ps)
    shares = [sum(counts[p] > 1 for p in ps) / len(ps) for ps in pieces if ps]
    return sum(shares) / len(shares)
