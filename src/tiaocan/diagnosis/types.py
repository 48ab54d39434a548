"""Typed results of diagnose: the Curves every reader produces and the findings every check returns.

All are pydantic models so `tiaocan diagnose --json` writes exactly what the library returns.
NaN/inf losses are kept in the float lists (they are evidence); pydantic writes them as null in JSON.
"""
from __future__ import annotations

from typing import Any, Literal, Optional

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from ..config import LOSS_BAND

Severity = Literal["critical", "warning", "info"]
SEVERITY_RANK = {"critical": 0, "warning": 1, "info": 2}
Source = Literal["tiaocan", "llamafactory", "hf"]


class Curves(BaseModel):
    """One run's logged curves, whatever wrote them. Missing per-point values are NaN."""

    model_config = ConfigDict(ser_json_inf_nan="null")

    name: str = Field(description="Short label for tables and plot legends (the run folder name).")
    path: str = Field(description="The run directory or log file that was read.")
    source: Source = Field(description="Which log format was read: tiaocan, llamafactory or hf.")
    files: list[str] = Field(default_factory=list, description="Files that were read.")
    notes: list[str] = Field(default_factory=list, description="Problems met while reading (skipped lines, truncation).")

    steps: list[int] = Field(default_factory=list, description="Optimizer step of each train log point.")
    loss: list[float] = Field(default_factory=list, description="Train loss per log point (NaN kept).")
    lr: list[float] = Field(default_factory=list, description="Learning rate per log point (NaN if not logged).")
    grad_norm: list[float] = Field(default_factory=list, description="Gradient norm per log point (NaN if not logged).")
    epoch: list[float] = Field(default_factory=list, description="Epoch (fractional) per log point (NaN if not logged).")
    loss_scale: list[float] = Field(default_factory=list, description="fp16 loss scale per log point when logged.")

    eval_steps: list[int] = Field(default_factory=list)
    eval_loss: list[float] = Field(default_factory=list)
    eval_epoch: list[float] = Field(default_factory=list)

    total_steps: Optional[int] = Field(None, description="Planned optimizer steps, when the log says.")
    finished: Optional[bool] = Field(None, description="True when the run reached its end; False while running or if it stopped early.")
    config: dict[str, Any] = Field(default_factory=dict, description="Training settings found beside the log (TrainConfig / LLaMA-Factory key names).")
    config_file: Optional[str] = None
    summary: dict[str, Any] = Field(default_factory=dict, description="run_summary.json / all_results.json content when present.")

    def arr(self, field: str) -> np.ndarray:
        return np.asarray(getattr(self, field), dtype=float)

    @property
    def n_train(self) -> int:
        return len(self.steps)

    @property
    def has_eval(self) -> bool:
        return any(np.isfinite(self.eval_loss)) if self.eval_loss else False


class Change(BaseModel):
    """One concrete edit to the next run's config, in TrainConfig / LLaMA-Factory key names."""

    key: str
    old: Any = None
    new: Any
    why: str = ""


class Finding(BaseModel):
    model_config = ConfigDict(ser_json_inf_nan="null")

    id: str = Field(description="Stable identifier, e.g. divergence, overfitting.")
    severity: Severity
    title: str = Field(description="One line in English.")
    title_zh: str = Field("", description="The same line in Chinese.")
    steps: list[int] = Field(default_factory=list, description="Steps where the problem shows (pinned in the report).")
    evidence: list[str] = Field(default_factory=list, description="Measured facts with steps and values.")
    evidence_zh: list[str] = Field(default_factory=list, description="同上（中文），由 explanation/zh.yaml 的 evidence_rules 译出（diagnosis/evidence_zh.py）。")
    explanation: str = Field("", description="Why this happens and why the change helps (English).")
    explanation_zh: str = Field("", description="同上（中文）。")
    changes: list[Change] = Field(default_factory=list)


class RunDiagnosis(BaseModel):
    model_config = ConfigDict(ser_json_inf_nan="null")

    name: str
    path: str
    source: Source
    healthy: bool = Field(description="True when no critical or warning finding fired.")
    finished: Optional[bool] = None
    last_step: Optional[int] = None
    final_loss: Optional[float] = Field(None, description="Final train loss: the median of the last tenth of the "
                                        "logged train losses, at least 5 (tiaocan.losscurve.final_level; "
                                        "run_summary.json's final_train_loss).")
    best_eval_loss: Optional[float] = None
    band: tuple[float, float] = LOSS_BAND
    findings: list[Finding] = Field(default_factory=list)
    suggested_config: dict[str, Any] = Field(default_factory=dict, description="The run's config with every suggested change applied.")
    changes: list[Change] = Field(default_factory=list, description="The changes that were applied to make suggested_config.")
    notes: list[str] = Field(default_factory=list)


class Diagnosis(BaseModel):
    runs: list[RunDiagnosis] = Field(default_factory=list)
    skipped: list[str] = Field(default_factory=list, description="Runs that could not be read, with the reason.")

    @property
    def healthy(self) -> bool:
        return all(r.healthy for r in self.runs)
