"""A trial's and a study's tiaocan state, read and written through typed views instead of string keys scattered
over the package.

Optuna keeps user attributes as JSON dicts per trial and per study; tiaocan stores there what a trial cost, where
it sits in successive halving, and what the study was created with (see DEVELOPERS.md). The key names are the
on-disk format of a study (a resumed study, a worker on another machine, optuna-dashboard read them), so they are
written once, here: `TrialAttrs` field = trial key, `StudyAttrs` field = study key without its `tiaocan_` prefix.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

# role: plan | probe | promoted | spread | None (proposed by the sampler)
_INTS = ("bracket", "rung", "rungs", "promoted_from", "tokens", "steps", "examples")


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
    worker: str | None = None  # host:pid that ran it (several machines share a study)
    config: dict[str, Any] | None = None  # the trial's TrainConfig, non-default keys
    fail_reason: str | None = None
    stop_reason: str | None = None
    stopped_by: Any = None  # why it did not train (budget, no bracket fits, a duplicate promotion)

    @classmethod
    def of(cls, trial) -> "TrialAttrs":
        ua = trial.user_attrs
        kw: dict[str, Any] = {}
        for f in fields(cls):
            v = ua.get(f.name)
            if v is None:
                continue
            kw[f.name] = int(v) if f.name in _INTS else float(v) if f.name == "wall_s" else v
        return cls(**kw)

    @property
    def tag(self) -> tuple[int, int] | None:
        """(bracket, rung) of a successive-halving trial, else None."""
        return (self.bracket, self.rung) if self.bracket is not None and self.rung is not None else None

    def placement(self) -> dict[str, int]:
        return {"bracket": self.bracket, "rung": self.rung, "rungs": self.rungs}

    @staticmethod
    def write(trial, **values: Any) -> None:
        """Set trial attrs by field name; a name that is no field is a TypeError (a typo must not become a key
        nobody reads)."""
        for key, v in TrialAttrs.queued(**values).items():
            trial.set_user_attr(key, v)

    @staticmethod
    def queued(**values: Any) -> dict[str, Any]:
        """`user_attrs` for `study.enqueue_trial`, checked like `write`."""
        unknown = sorted(set(values) - _TRIAL_FIELDS)
        if unknown:
            raise TypeError(f"no trial attr {unknown[0]!r}")
        return dict(values)


_TRIAL_FIELDS = {f.name for f in fields(TrialAttrs)}
PREFIX = "tiaocan_"  # study attrs share optuna-dashboard's view with the user's own


@dataclass(frozen=True)
class StudyAttrs:
    brackets: list[int] = field(default_factory=list)  # the size s of every bracket opened so far
    promoted_rungs: list[str] = field(default_factory=list)  # "bracket:rung" whose best third was queued
    space: dict[str, Any] | None = None  # the SearchSpace the study was created with (JSON)
    space_signature: str | None = None
    full_run_tokens: int | None = None  # tokens of one full base run when the study was created: the budget unit
    base_signature: str | None = None  # the base config (and what shaped the space) it was created from

    @classmethod
    def of(cls, study) -> "StudyAttrs":
        ua = study.user_attrs
        kw = {f.name: ua[PREFIX + f.name] for f in fields(cls) if ua.get(PREFIX + f.name) is not None}
        if "full_run_tokens" in kw:
            kw["full_run_tokens"] = int(kw["full_run_tokens"])
        return cls(**kw)

    @staticmethod
    def write(study, **values: Any) -> None:
        unknown = sorted(set(values) - {f.name for f in fields(StudyAttrs)})
        if unknown:
            raise TypeError(f"no study attr {unknown[0]!r}")
        for key, v in values.items():
            study.set_user_attr(PREFIX + key, v)
