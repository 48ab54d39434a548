"""TuneOptions: how `tiaocan tune` searches, typed once. Each field's description is its `--flag` help in the CLI
and its default the flag's default (cli/tune_cmd.py reads both), so the Python API and the command line cannot
drift apart. The search's phases read their settings from here instead of taking them one argument at a time."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .budget import Budget
from .storage import GRACE_S, HEARTBEAT_S


class TuneOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    budget: str | Budget = Field("5x", description="Compute to spend: wall time (2h, 90m), tokens (2M-tokens) or "
                                 "full runs (5x). Shared by all workers of a study.")
    gpu: str | None = Field(None, description="GPU for the plan (H100-80GB, 24GB, 2x4090); default: detected.")
    storage: str | None = Field(None, description="Study database: sqlite:///tune.db (default: OUTDIR/tune.db) or "
                                "postgresql://user:pw@host/db to share a study between machines.")
    study: str | None = Field(None, description="Study name; re-running with the same name continues it.")
    metric: str = Field("eval_loss", description="eval_loss (default) or a `tiaocan eval` score: fact_accuracy, "
                        "pass_rate, chrf, rouge_l.")
    eval_data: str | None = Field(None, description="Test file for --metric other than eval_loss.")
    space: dict[str, Any] | list[str] | None = Field(None, description="Override a search dimension: "
                                                     "learning_rate=1e-5:1e-3, lora_rank=8,16,32, or num_train_epochs=fixed.")
    overrides: dict[str, Any] | None = Field(None, description="Fix a key in every trial: key=value.")
    pruner: str = Field("sh", description="sh: successive halving over complete shorter runs (default); asha or "
                        "hyperband: Optuna's pruners, judging full runs part-way; none.")
    max_trials: int | None = Field(None, description="Stop after this many trials (budget still applies).")
    workers: int = Field(1, description="Parallel worker processes on this machine (one per GPU).")
    lr_range_test: bool = Field(False, description="First bound the learning rate from above by a short range test.")
    final: bool = Field(False, description="Retrain the best configuration to full length at the end.")
    output_dir: Path = Field(Path("runs/tune"), description="Where trials, YAMLs and the report go.")
    seed: int = Field(0, description="Sampler seed.")
    quiet: bool = Field(False, description="No per-trial progress lines.")
    tune_rank: bool | None = Field(None, description="Search the LoRA rank too (default: when capacity may matter).")
    heartbeat_s: int = Field(HEARTBEAT_S, description="Seconds between a running trial's heartbeats (RDB storage).")
    grace_s: int = Field(GRACE_S, description="A trial whose heartbeat is this old is failed and re-queued.")

    @classmethod
    def build(cls, options: "TuneOptions | None", **changes: Any) -> "TuneOptions":
        """`options` with keyword changes (tune()'s keyword arguments); an unknown name is a TypeError, as for
        any Python function."""
        unknown = sorted(set(changes) - set(cls.model_fields))
        if unknown:
            raise TypeError(f"tune() got an unexpected keyword argument {unknown[0]!r}")
        return (options or cls()).model_copy(update=changes)


def help_of(name: str) -> str:
    """The CLI help text of option `name`: its field description."""
    return TuneOptions.model_fields[name].description or ""


def default_of(name: str) -> Any:
    """The CLI default of option `name`: the field's own."""
    return TuneOptions.model_fields[name].default
