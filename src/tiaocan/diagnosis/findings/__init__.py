"""Registry of findings: one module a finding, each registering a check(signals) -> list[Finding]. A module holds
its rule and evidence numbers; titles and explanations come by finding id from the catalogue with the other
translations (explanation/en.yaml, zh.yaml; `_common.words`).

Order matters only for the suggested config: when two findings change the same key, the more severe one
wins, and on equal severity the earlier-registered one (causes before symptoms: NaN before spikes).
"""
from __future__ import annotations

from typing import Callable

from ..signals import Signals
from ..types import Finding

Check = Callable[[Signals], list[Finding]]
REGISTRY: dict[str, Check] = {}


def register(name: str) -> Callable[[Check], Check]:
    def deco(fn: Check) -> Check:
        REGISTRY[name] = fn
        return fn

    return deco


def run_checks(sig: Signals, only: list[str] | None = None) -> list[Finding]:
    out: list[Finding] = []
    sig.found = out  # later checks see earlier findings (plateau defers to divergence, ...)
    for name, fn in REGISTRY.items():
        if only is None or name in only:
            out.extend(fn(sig))
    from ..evidence_zh import to_zh

    for f in out:
        if not f.evidence_zh:
            f.evidence_zh = [to_zh(x) for x in f.evidence]
    return out


# Each import registers its check (order = priority on equal severity).
from . import fp16, divergence, grad_norm, spikes, schedule, plateau, underfit, overfit, noisy, truncation  # noqa: E402,F401

__all__ = ["REGISTRY", "register", "run_checks"]
