"""The Plan: every recommended value with its reason and source, memory per device, steps, tokens, time."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel

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
        body = yaml.safe_dump(self.to_train_config().to_yaml_dict(include_defaults=False), sort_keys=False,
                              allow_unicode=True)
        p.write_text(header + body, encoding="utf-8")
        return p
