"""Robust summaries of one run's curves, computed once and shared by every finding.

Why robust statistics: logged losses are noisy (a batch of 1 gives one example's loss) and heavy-tailed
(one odd example, one spike). Levels are rolling medians, noise is the MAD of the residuals, and the start/end
levels are medians of the first/last tenth, so thresholds can be relative ("20 % above its start", "8 noise
units") instead of constants tuned to one curve.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from ..config import LOSS_BAND, parse_band
from ..losscurve import edge_count, ema, smoothing_weight  # noqa: F401 — one definition, re-exported
from .types import Curves

DEFAULT_BAND = LOSS_BAND  # the practitioner's target train-loss band, unless the run set stop_loss_band


def window_medians(x: np.ndarray, w: int) -> np.ndarray:
    """m[j] = median(x[j : j + w]) for every full window (vectorised: np.median over a strided view)."""
    x = np.asarray(x, float)
    if len(x) < w:
        return np.empty(0)
    return np.median(np.lib.stride_tricks.sliding_window_view(x, w), axis=1)


def rolling_median(x: np.ndarray, w: int) -> np.ndarray:
    """Centred rolling median; the window shrinks at the edges (no padding artefacts)."""
    n, h = len(x), w // 2
    if n <= 2 * h:
        return np.array([np.median(x[max(0, i - h): i + h + 1]) for i in range(n)])
    out = np.empty(n)
    out[h: n - h] = window_medians(x, 2 * h + 1)
    for i in list(range(h)) + list(range(n - h, n)):  # the few edge points, with their shorter windows
        out[i] = np.median(x[max(0, i - h): i + h + 1])
    return out


def mad_sigma(x: np.ndarray) -> float:
    """Noise scale that ignores outliers: 1.4826 x median absolute deviation (= std for Gaussian noise)."""
    x = x[np.isfinite(x)]
    return float(1.4826 * np.median(np.abs(x - np.median(x)))) if len(x) else 0.0


def window_for(n: int) -> int:
    w = max(3, min(51, n // 8))
    return w if w % 2 else w + 1


def fmt(v: float, digits: int = 3) -> str:
    """Numbers for evidence lines: learning rates like 2e-4, losses like 1.23."""
    if v is None or not math.isfinite(v):
        return str(v)
    if v != 0 and (abs(v) < 1e-2 or abs(v) >= 1e5):
        m, e = f"{v:.1e}".split("e")
        return f"{m.rstrip('0').rstrip('.')}e{int(e)}"
    return f"{v:.{digits}g}"


def nice(v: float) -> float:
    """Round to 1, 2, 3 or 5 x 10^k so suggestions read like numbers people type (2e-4, 5e-5)."""
    if v <= 0 or not math.isfinite(v):
        return v
    e = math.floor(math.log10(v))
    m = v / 10**e
    m = min((1, 2, 3, 5, 10), key=lambda c: abs(math.log(m / c)))
    return float(f"{m * 10**e:.3g}")


@dataclass
class Signals:
    curves: Curves
    band: tuple[float, float]
    steps: np.ndarray          # steps of finite losses
    loss: np.ndarray           # finite losses
    level: np.ndarray          # rolling median of loss
    sigma: float               # noise scale of loss around its level
    sigma_log: float           # the same in log space (loss noise is multiplicative: use for relative tests)
    start: float               # median of the first tenth (losscurve.start_level)
    end: float                 # median of the last tenth (losscurve.final_level: the "final train loss")
    k: int                     # points in a tenth (>= 3)
    nonfinite_steps: list[int]
    lr: np.ndarray             # lr aligned with all train points (NaN where missing)
    grad_norm: np.ndarray
    epoch: np.ndarray
    cfg: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # checks add what they could not judge (e.g. data missing)
    found: list = field(default_factory=list)  # findings of the checks run so far (later checks defer to causes)
    check_data: bool = True  # truncation re-reads the dataset (tokenizer load): callers may switch it off
    first: float = math.nan    # the first logged loss ("started at")

    @property
    def n(self) -> int:
        return len(self.loss)

    @property
    def finished(self) -> bool:
        return self.curves.finished is not False

    @property
    def stop_reason(self) -> str:
        return str(self.curves.summary.get("stop_reason", "")).lower()

    @property
    def ran_full_schedule(self) -> bool:
        """Finished and not stopped on purpose early (loss band / early stopping leave the lr undecayed)."""
        return self.finished and self.stop_reason not in ("loss_band", "early_stopping", "pruned", "diverged")

    @property
    def rel_noise(self) -> float:
        """Scatter relative to the late level — but never relative to less than the band's low edge: ±0.02 on
        a memorised loss of 0.04 is 50 % yet harmless, so tiny levels must not inflate the ratio."""
        late = self.level[self.n // 2:] if self.n >= 4 else self.level
        lv = max(float(np.median(late)) if len(late) else 0.0, self.band[0])
        return self.sigma / lv if lv > 0 else 0.0

    @property
    def thirds(self) -> tuple[float, float]:
        """Medians of the first and last third: a start-vs-end comparison that stays steady on short noisy runs."""
        t = max(1, self.n // 3)
        return float(np.median(self.loss[:t])), float(np.median(self.loss[-t:]))

    @property
    def overall_drop(self) -> float:
        """Relative fall of the loss over the run (first-third vs last-third median); negative = it rose."""
        a, b = self.thirds
        return (a - b) / a if a > 0 else 0.0

    def peak_lr(self) -> float | None:
        """The configured learning rate, else the largest logged one."""
        v = self.cfg.get("learning_rate")
        try:
            if v is not None:
                return float(v)
        except (TypeError, ValueError):
            pass
        lr = self.lr[np.isfinite(self.lr)]
        return float(lr.max()) if len(lr) and lr.max() > 0 else None

    @cached_property
    def epochs_per_step(self) -> float | None:
        """Logged epoch / step (constant within a run); None when no epoch was logged."""
        s, e = np.asarray(self.curves.steps, float), self.epoch
        ok = np.isfinite(e) & (s > 0)
        return float(np.median(e[ok] / s[ok])) if ok.any() else None

    def epoch_at(self, step: int) -> float | None:
        """Epoch at a step, from the logged epochs (they are linear in steps)."""
        return step * self.epochs_per_step if self.epochs_per_step is not None else None

    def has(self, *ids: str) -> bool:
        return any(f.id in ids for f in self.found)

    def end_se(self) -> float:
        """Standard error of the end level (a median of k points)."""
        return 1.25 * self.sigma / np.sqrt(max(self.k, 1))

    def effective_batch(self) -> int | None:
        b = self.cfg.get("per_device_train_batch_size")
        if b is None:
            return None
        return int(b) * int(self.cfg.get("gradient_accumulation_steps", 1) or 1)

    def is_lora(self) -> bool:
        return str(self.cfg.get("finetuning_type", "lora")).lower() != "full"


def compute(curves: Curves, band: tuple[float, float] | None = None) -> Signals:
    cfg = dict(curves.config)
    if band is None:
        try:  # the run's own band, read as the config reads it; a foreign or broken value: the default
            band = parse_band(cfg.get("stop_loss_band")) or DEFAULT_BAND
        except ValueError:
            band = DEFAULT_BAND
    loss_all = curves.arr("loss")
    steps_all = np.asarray(curves.steps, dtype=int)
    ok = np.isfinite(loss_all)
    # An exact 0.0 is a broken step (fp16 overflow / nothing supervised, see findings.fp16), not a low loss.
    usable = ok & (loss_all != 0.0)
    loss, steps = loss_all[usable], steps_all[usable]
    n = len(loss)
    w = window_for(n)
    level = rolling_median(loss, w) if n else loss
    k = edge_count(n)  # the same tenth (>= 5 points) as losscurve.start_level / final_level
    start = float(np.median(loss[:k])) if n else math.nan
    end = float(np.median(loss[-k:])) if n else math.nan
    return Signals(curves=curves, band=band, steps=steps, loss=loss, level=level,
                   sigma=mad_sigma(loss - level) if n else 0.0,
                   sigma_log=mad_sigma(np.log(loss) - np.log(level)) if n and (loss > 0).all() else 0.0, start=start, end=end, k=k,
                   nonfinite_steps=[int(s) for s in steps_all[~ok]],
                   lr=curves.arr("lr"), grad_norm=curves.arr("grad_norm"), epoch=curves.arr("epoch"), cfg=cfg,
                   first=float(loss[0]) if n else math.nan)
