"""The learning-rate probe: equal short runs of the plan's config at learning rates x2 apart, each scored on the
held-out split at its end; the lowest held-out loss wins, and the rule's horizon term carries it to the full run.

Why centre the candidates on the planned value moved to the probe's horizon (planned / transfer) rather than on the
planned value itself: a probe run is a fraction of the full run, and the rule says a short run's best learning rate
is higher by horizon_factor(probe) / horizon_factor(full). Centred there, the five candidates stand for the full-run
learning rates planned / 4 ... planned x 4 after the transfer back, so the probe tests the rule's value, not the
edge of its range. The transfer is the rule's own function (planning/rules/learning_rate.horizon_factor), called
here, never copied: when the rule is refitted the probe follows.
"""
from __future__ import annotations

import math
import time
from pathlib import Path

from ..config import TrainConfig
from ..errors import UserError
from ..planning.result import ProbeRun

N_LRS = 5  # lr / 4 ... lr x 4
SPACING = 2.0


def two_digits(x: float) -> float:
    """Learning rates are written with two significant digits, as the plan writes its own."""
    return float(f"{x:.2g}")


def transfer_factor(full_seen: float, probe_seen: float, method: str) -> float:
    """The rule's horizon multiplier of the full run over a probe run's. The rule applies its horizon term to
    LoRA only (recommend_lr), so full fine-tuning transfers as is."""
    from ..planning.rules.learning_rate import horizon_factor

    if method == "full":
        return 1.0
    return horizon_factor(full_seen) / horizon_factor(probe_seen)


def candidates(centre: float, n: int = N_LRS) -> list[float]:
    """`n` learning rates x2 apart centred on `centre` (in the probe's horizon)."""
    half = (n - 1) / 2
    return [centre * SPACING ** (k - half) for k in range(n)]


def run_config(cfg: TrainConfig, lr: float, steps: int, own_steps: int, out_dir: Path) -> TrainConfig:
    """The plan's config as a complete run of `steps` steps at `lr` (tune's scored-run settings: no checkpoints,
    no early stop, evaluated once at its end; warmup and cosine over the probe's horizon)."""
    from ..tuning.objective import SCORED_RUN, shortened

    return cfg.model_copy(update=dict(learning_rate=lr, output_dir=str(out_dir), stop_loss_band=None, **SCORED_RUN,
                                      **shortened(cfg, steps, own_steps)))


def score(cfg: TrainConfig, full_run_lr: float) -> ProbeRun:
    """Train one probe run and read its held-out loss at the end, as a tune trial does. A diverged, NaN or crashed
    run scores None (worst); a config error is the user's to fix and propagates; so does Ctrl-C."""
    from ..training import train
    from ..tuning.objective import classify_failure

    started = time.time()
    row = dict(learning_rate=cfg.learning_rate, full_run_lr=full_run_lr, steps=cfg.max_steps)
    try:
        s = train(cfg, overwrite=True, quiet=True)
    except (UserError, KeyboardInterrupt):
        raise
    except Exception as e:  # noqa: BLE001 — OOM, NaN in the kernels: a data point, the worst one
        return ProbeRun(**row, status="failed", note=classify_failure(e), seconds=round(time.time() - started, 2))
    loss = s.final_eval_loss
    bad = s.stop_reason == "diverged" or loss is None or not math.isfinite(loss)
    return ProbeRun(**dict(row, steps=s.global_step), eval_loss=None if bad else loss,
                    status="diverged" if bad else "completed", note=s.stop_message if bad else "",
                    tokens=s.tokens_seen, seconds=round(s.wall_time_s or time.time() - started, 2))


def best_index(runs: list[ProbeRun]) -> int | None:
    """The run with the lowest held-out loss; None when every run diverged or failed."""
    ok = [i for i, r in enumerate(runs) if r.eval_loss is not None]
    return min(ok, key=lambda i: runs[i].eval_loss) if ok else None


def edge_of(runs: list[ProbeRun], best: int) -> str | None:
    """'low' / 'high' when the best is the lowest / highest learning rate probed."""
    lrs = sorted(r.learning_rate for r in runs)
    lr = runs[best].learning_rate
    return "low" if lr == lrs[0] else "high" if lr == lrs[-1] else None
