"""One definition of each number a loss curve is summarised by, shared by train (run_summary.json, the printed
result, training_loss.png), diagnose (its table, evidence and findings) and the report's loss.png — so every
place that says "final train loss" or draws "smoothed" means the same thing.

- usable loss: a finite, non-zero logged train loss (an exact 0.0 is a broken step: fp16 overflow or nothing
  supervised, see diagnose.findings.fp16);
- first loss: the first usable logged loss ("started at");
- start / final level: the median of the first / last tenth of the usable logged losses, at least 5 of them
  (a median, not the last value: one batch's loss scatters by ±20 % on small batches);
- smoothing (plots): a debiased exponential moving average whose memory grows with the curve's length.
"""
from __future__ import annotations

import math
from typing import Iterable, Optional

import numpy as np

EDGE_MIN = 5  # a median of fewer points is too noisy for a start/end level
FINAL_DEFINITION = "median of the last tenth of the logged train losses (at least 5)"


def usable(losses: Iterable[float]) -> np.ndarray:
    x = np.asarray([float(v) for v in losses if v is not None], dtype=float)
    return x[np.isfinite(x) & (x != 0.0)]


def edge_count(n: int) -> int:
    """How many points the start and final levels take: a tenth of the curve, at least EDGE_MIN."""
    return min(n, max(EDGE_MIN, n // 10))


def first_loss(losses: Iterable[float]) -> Optional[float]:
    x = usable(losses)
    return float(x[0]) if len(x) else None


def start_level(losses: Iterable[float]) -> Optional[float]:
    x = usable(losses)
    return float(np.median(x[:edge_count(len(x))])) if len(x) else None


def final_level(losses: Iterable[float]) -> Optional[float]:
    """The final train loss everywhere: the median of the last tenth of the usable logged losses (>= 5 points)."""
    x = usable(losses)
    return float(np.median(x[-edge_count(len(x)):])) if len(x) else None


def smoothing_weight(n: int) -> float:
    """Heavier smoothing for longer curves: about n/15 points of memory, between 0.6 and 0.98."""
    return float(min(0.98, max(0.6, 1 - 15 / max(n, 1))))


def ema(x, weight: Optional[float] = None) -> np.ndarray:
    """TensorBoard-style debiased exponential moving average (for plots: it lags, so findings use medians).
    `weight` defaults to `smoothing_weight(len(x))`: the one smoothing every loss plot draws."""
    x = np.asarray(x, dtype=float)
    if weight is None:
        weight = smoothing_weight(len(x))
    out, acc, norm = np.empty(len(x)), 0.0, 0.0
    for i, v in enumerate(x):
        acc, norm = weight * acc + (1 - weight) * v, weight * norm + (1 - weight)
        out[i] = acc / norm
    return out


def fmt_loss(v: Optional[float]) -> str:
    return f"{v:.4f}" if v is not None and math.isfinite(v) else "-"
