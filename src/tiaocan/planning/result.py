"""The Plan: every recommended value with its reason and source, memory per device, steps, tokens, time."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from .facts import DataFacts
from .hardware import GPU
from .memory import MemoryEstimate


class Rec(BaseModel):
    """One recommended value: `reason` is rendered from the explain texts (en/zh), `source` cites the rule."""
    key: str
    value: Any
    reason: str
    source: str
    overridden: bool = False


class PlanSteps(BaseModel):
    effective_batch: int
    steps_per_epoch: int
    total_steps: int
    warmup_steps: int = 0
    train_examples: int = 0  # after the held-out split (what a run trains on)
    eval_examples: int = 0  # held out by val_size
    tokens_per_epoch: int
    total_tokens: int
    est_seconds: float | None = None
    est_basis: str | None = None


class ProbeRun(BaseModel):
    """One short run of `plan --probe` at one learning rate, scored on the held-out split at its end."""
    learning_rate: float = Field(description="The learning rate as run (the probe's short horizon).")
    full_run_lr: float = Field(description="What it means for the full run: learning_rate x the horizon transfer.")
    eval_loss: float | None = Field(None, description="Held-out loss at the run's end; None when it diverged or failed.")
    status: Literal["completed", "diverged", "failed"] = "completed"
    steps: int = 0
    tokens: int = Field(0, description="Training input tokens it processed.")
    seconds: float = 0.0
    note: str = ""


class NoiseScale(BaseModel):
    """The gradient noise scale B_simple = tr(Sigma) / |G|^2 (McCandlish et al. 2018, appendix A), measured at the
    start of training from per-small-batch gradients of the trainable parameters (no optimizer step)."""
    b_simple: float | None = Field(None, description="Examples; None when the estimate was not positive (too noisy).")
    grad_sq: float = Field(description="Unbiased estimate of |G|^2, the true gradient's squared norm.")
    trace_sigma: float = Field(description="Unbiased estimate of tr(Sigma), the per-example gradient variance.")
    b_small: int
    b_big: int
    tokens: int = 0
    seconds: float = 0.0
    planned_batch: int = Field(description="The plan's effective batch before the probe.")
    chosen_batch: int = Field(description="The effective batch the plan now has.")


class ProbeResult(BaseModel):
    """What `plan --probe` measured on the user's data and hardware, and what it chose."""
    budget: float = Field(description="Share of the full run's training tokens the probe was allowed.")
    rule_lr: float = Field(description="The plan's learning rate before the probe (the rule's value).")
    centre_lr: float = Field(description="The full-run learning rate the candidates were centred on (the rule's value "
                             "at the chosen batch).")
    runs: list[ProbeRun] = []
    best_lr: float | None = Field(None, description="The probed learning rate with the lowest held-out loss.")
    edge: Literal["low", "high"] | None = Field(None, description="The best was the lowest / highest probed.")
    extended: bool = Field(False, description="One more run, x2 beyond the edge, was added.")
    probe_seen: float = Field(description="Examples one probe run processes (its horizon).")
    full_seen: float = Field(description="Examples the full run processes, epochs counted.")
    train_examples: int = Field(0, description="Examples a run trains on (after the held-out split): the horizon's "
                                "epochs are seen / this.")
    transfer: float = Field(description="horizon_factor(full_seen) / horizon_factor(probe_seen) from the rule.")
    chosen_lr: float = Field(description="The learning rate the plan now has.")
    noise: NoiseScale | None = None
    noise_factor: float | None = Field(None, description="When no learning-rate run was possible (too short): the "
                                       "factor the measured noise scale put on the rule's value (learning_rate."
                                       "noise_factor), else None.")
    held_out: Literal["val_size", "eval_dataset", "carved"] = Field(description="Where the scoring split came "
                                                                    "from: the plan's, its eval_dataset, or carved "
                                                                    "for the probe only.")
    eval_examples: int = 0
    tokens: int = Field(0, description="Training tokens the probe used (runs + noise-scale gradients).")
    full_run_tokens: int = 0
    compute_fraction: float = Field(0.0, description="tokens / the full run's training tokens.")
    seconds: float = 0.0
    summary: str = Field("", description="What was chosen and why (the plan's language).")
    notes: list[str] = []


class Plan(BaseModel):
    model: str
    model_source: str
    method: str
    gpu: GPU | None
    data: DataFacts
    recommendations: list[Rec]
    config: dict[str, Any]
    memory: MemoryEstimate
    memory_budget_bytes: int | None
    steps: PlanSteps
    notes: list[str] = []
    lang: str = "en"
    overrides: dict[str, Any] = Field({}, description="The --set values the plan was made with (a re-plan keeps them).")
    probe: ProbeResult | None = Field(None, description="What `plan --probe` measured and chose; None without it.")

    def value(self, key: str) -> Any:
        return self.config.get(key)

    def to_train_config(self):
        from ..config import build_config

        return build_config(dict(self.config), source="plan")

    def save_yaml(self, path: str | Path) -> Path:
        """Write the plan as a TrainConfig YAML that `tiaocan train` runs as is."""
        import yaml

        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        header = f"# tiaocan plan for {self.model} ({self.method})" + (f" on {self.gpu.name}" if self.gpu else "") + "\n"
        if self.probe is not None and not self.probe.runs and self.probe.noise_factor is not None:
            header += (f"# learning_rate {self.probe.chosen_lr:.2g}: the rule's {self.probe.centre_lr:.2g} x "
                       f"{self.probe.noise_factor:.2f} for the gradient noise scale `tiaocan plan --probe` measured "
                       f"(B_simple {self.probe.noise.b_simple:.3g}; learning-rate runs would have been too short)\n")
        elif self.probe is not None and not self.probe.runs:
            header += (f"# learning_rate {self.probe.chosen_lr:.2g}: `tiaocan plan --probe` measured none (its runs "
                       "would have been too short to carry over; see the plan)\n")
        elif self.probe is not None:
            b = self.probe.noise
            header += (f"# learning_rate {self.probe.chosen_lr:.2g} measured by `tiaocan plan --probe` (held-out loss of "
                       f"{len(self.probe.runs)} short runs; the rule gave {self.probe.rule_lr:.2g})"
                       + (f"; gradient noise scale B_simple {b.b_simple:.3g}" if b and b.b_simple else "") + "\n")
        body = yaml.safe_dump(self.to_train_config().to_yaml_dict(include_defaults=False), sort_keys=False,
                              allow_unicode=True)
        p.write_text(header + body, encoding="utf-8")
        return p
