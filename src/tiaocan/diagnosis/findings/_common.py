"""Small helpers shared by findings: config look-ups, the concrete changes they propose, and their texts."""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ...explanation import finding_text
from ..signals import Signals, fmt, nice
from ..types import Change


def words(fid: str, *, title: str | None = None, explanation: str | None = None, **values: Any) -> dict[str, str]:
    """Finding `fid`'s id, title and explanation in English and Chinese, from the catalogue with the other
    translations (explanation/en.yaml, zh.yaml `findings`): `title` / `explanation` name the case of a finding
    that has several, `values` fill the texts' {names}. Spread into `Finding(...)`, so a finding module holds its
    rule and numbers, not its prose."""
    out = {"id": fid}
    for lang, suffix in (("en", ""), ("zh", "_zh")):
        out["title" + suffix] = finding_text(fid, "title", title, lang, **values)
        out["explanation" + suffix] = finding_text(fid, "explanation", explanation, lang, **values)
    return out


def cfg_num(sig: Signals, key: str, default: float | None = None) -> float | None:
    v = sig.cfg.get(key, default)
    try:
        return float(v) if v is not None else None
    except (TypeError, ValueError):
        return default


def lr_change(sig: Signals, factor: float, why: str) -> list[Change]:
    """learning_rate × factor, rounded to a number people type; empty when the lr is unknown."""
    lr = sig.peak_lr()
    if not lr:
        return []
    return [Change(key="learning_rate", old=float(fmt(lr)), new=nice(lr * factor), why=why)]


def clip_change(sig: Signals) -> list[Change]:
    """Gradient clipping at 1.0 (HF's default) when it is off or loose."""
    mg = cfg_num(sig, "max_grad_norm")
    if mg is not None and (mg == 0 or mg > 1.0):
        return [Change(key="max_grad_norm", old=mg, new=1.0, why="clip gradient spikes")]
    return []


def warmup_change(sig: Signals, new_ratio: float, why: str) -> list[Change]:
    out = [Change(key="warmup_ratio", old=sig.cfg.get("warmup_ratio"), new=new_ratio, why=why)]
    ws = cfg_num(sig, "warmup_steps")
    if ws:  # warmup_steps overrides warmup_ratio in HF/LF, so it must go for the ratio to count
        out.append(Change(key="warmup_steps", old=int(ws), new=0, why="warmup_steps overrides warmup_ratio"))
    return out


def has_warmup(sig: Signals) -> bool:
    return bool((cfg_num(sig, "warmup_ratio") or 0) > 0 or (cfg_num(sig, "warmup_steps") or 0) > 0)


def epochs_change(sig: Signals, new: float, why: str) -> list[Change]:
    old = cfg_num(sig, "num_train_epochs")
    if old is None:
        last = sig.epoch_at(int(sig.curves.steps[-1])) if sig.curves.steps else None
        old = round(last, 2) if last else None
    new = float(max(1, math.ceil(new)))
    if old is not None and abs(new - old) < 0.5:
        return []
    return [Change(key="num_train_epochs", old=old, new=new, why=why)]


def steps_where(sig: Signals, mask: np.ndarray, limit: int = 8) -> list[int]:
    return [int(s) for s in sig.steps[mask][:limit]]


def pairs(steps, values, limit: int = 6) -> str:
    """'step 12: 3.41, step 13: 5.02' for evidence lines."""
    items = [f"step {int(s)}: {fmt(float(v))}" for s, v in list(zip(steps, values))[:limit]]
    more = len(steps) - limit
    return ", ".join(items) + (f" (+{more} more)" if more > 0 else "")


def typical_lr(sig: Signals) -> float:
    """A common starting lr: LoRA 1e-4 (LoRA's optimum is ~10x full FT's), full fine-tuning 1e-5."""
    return 1e-4 if sig.is_lora() else 1e-5


__all__ = ["words", "cfg_num", "lr_change", "clip_change", "warmup_change", "has_warmup", "epochs_change",
           "steps_where", "pairs", "typical_lr"]
