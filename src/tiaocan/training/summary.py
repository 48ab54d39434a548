"""What a finished (or stopped) run reports: `RunSummary` (run_summary.json) and the loss plot."""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from ..losscurve import ema

StopReason = Literal[
    "completed",  # ran the whole schedule (num_train_epochs / max_steps)
    "loss_band",  # smoothed train loss entered stop_loss_band (and eval loss stopped improving)
    "early_stopping",  # eval loss did not improve for early_stopping_patience evals
    "diverged",  # NaN/inf or smoothed loss far above its start
    "pruned",  # a tuner's pruning callback stopped the trial
    "interrupted",  # Ctrl-C
    "error",  # any other exception
]


class RunSummary(BaseModel):
    """The outcome of one `tiaocan train` run; written to <output_dir>/run_summary.json."""

    output_dir: str
    stop_reason: StopReason
    stop_message: str = ""
    final_train_loss: float | None = Field(None, description="Final train loss: the median of the last tenth of the "
                                           "logged train losses, at least 5 (tiaocan.losscurve.final_level; the "
                                           "number diagnose reports too).")
    last_train_loss: float | None = Field(None, description="The last logged (raw, one-batch) train loss.")
    best_train_loss: float | None = None
    final_eval_loss: float | None = None
    best_eval_loss: float | None = None
    best_checkpoint: str | None = None
    global_step: int = 0
    total_steps: int = 0
    epochs: float = 0.0
    effective_batch: int = 0
    steps_per_epoch: int = 0
    warmup_steps: int = 0
    train_examples: int = Field(0, description="After the held-out split and dropping at cutoff_len.")
    eval_examples: int = 0
    tokens_seen: int = Field(0, description="Non-padding input tokens processed (all devices).")
    tokens_per_second: float = 0.0
    trainable_params: int = 0
    peak_memory_mb: float = Field(0.0, description="Peak accelerator memory, or peak process RSS on CPU.")
    wall_time_s: float = 0.0

    def write(self, path: str | Path | None = None) -> Path:
        p = Path(path) if path else Path(self.output_dir) / "run_summary.json"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps(self.model_dump(mode="json"), indent=2, ensure_ascii=False), encoding="utf-8")
        return p

    @classmethod
    def read(cls, run_dir: str | Path) -> "RunSummary":
        return cls.model_validate_json((Path(run_dir) / "run_summary.json").read_text(encoding="utf-8"))


def plot_loss(log_path: str | Path, out_path: str | Path) -> Path | None:
    """training_loss.png from trainer_log.jsonl: raw + smoothed train loss, eval loss points."""
    log_path, out_path = Path(log_path), Path(out_path)
    if not log_path.is_file():
        return None
    train_pts, eval_pts = [], []
    for line in log_path.read_text(encoding="utf-8").splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue  # a run killed mid-write leaves a partial last line
        step = rec.get("current_steps")
        for key, pts in (("loss", train_pts), ("eval_loss", eval_pts)):
            v = rec.get(key)
            if v is not None and math.isfinite(v):
                pts.append((step, v))
    if not train_pts and not eval_pts:
        return None
    import matplotlib

    matplotlib.use("Agg")  # headless: no display on servers / CI
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    if train_pts:
        xs, ys = zip(*train_pts)
        ax.plot(xs, ys, color="tab:blue", alpha=0.3, label="train loss")
        ax.plot(xs, ema(ys), color="tab:blue", label="train loss (smoothed)")  # the report's smoothing too
    if eval_pts:
        xs, ys = zip(*eval_pts)
        ax.plot(xs, ys, "o-", color="tab:orange", label="eval loss")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("loss")
    ax.set_title(f"training loss — {out_path.parent.name}")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out_path)
    plt.close(fig)
    return out_path
