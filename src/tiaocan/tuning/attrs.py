"""A trial's tiaocan state, read through one typed view instead of string keys scattered over the package.

Optuna keeps per-trial user attributes as a JSON dict; tiaocan stores there what a trial cost and where it
sits in successive halving (see DEVELOPERS.md). Every reader goes through `TrialAttrs.of(trial)`, so a key's
name, type and default are written once; writers use `KEYS` names with `trial.set_user_attr`.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

# role: plan | probe | promoted | spread | None (proposed by the sampler)
KEYS = ("role", "bracket", "rung", "rungs", "promoted_from", "wall_s", "tokens", "steps", "examples", "worker",
        "fail_reason", "stop_reason", "stopped_by")


@dataclass(frozen=True)
class TrialAttrs:
    role: str | None = None
    bracket: int | None = None  # successive-halving bracket (0 = the first)
    rung: int | None = None  # rung in its bracket: 0 = the shortest runs; `rungs` = full runs
    rungs: int | None = None
    promoted_from: int | None = None  # the trial whose rung result queued this one
    wall_s: float = 0.0
    tokens: int = 0
    steps: int = 0
    examples: int | None = None  # None: not reported (read the trial's last intermediate step instead)
    worker: str | None = None
    fail_reason: str | None = None
    stop_reason: str | None = None
    stopped_by: Any = None

    @classmethod
    def of(cls, trial) -> "TrialAttrs":
        ua = trial.user_attrs
        kw: dict[str, Any] = {}
        for f in fields(cls):
            if ua.get(f.name) is None:
                continue
            v = ua[f.name]
            kw[f.name] = int(v) if f.name in ("bracket", "rung", "rungs", "promoted_from", "tokens", "steps",
                                               "examples") else float(v) if f.name == "wall_s" else v
        return cls(**kw)

    @property
    def tag(self) -> tuple[int, int] | None:
        """(bracket, rung) of a successive-halving trial, else None."""
        return (self.bracket, self.rung) if self.bracket is not None and self.rung is not None else None

    def placement(self) -> dict[str, int]:
        return {"bracket": self.bracket, "rung": self.rung, "rungs": self.rungs}
