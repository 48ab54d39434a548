"""Synthetic-but-realistic labelled runs for the diagnose benchmark, written in the real on-disk formats.

Each scenario plants one problem (or none) into a loss model shaped like real SFT curves:
loss(t) = floor + (start - floor) * exp(-progress / tau), multiplicative noise whose size shrinks with the
square root of the effective batch, eval loss a little above train, lr from warmup + cosine/constant.
Seeds vary start/floor/noise/length so the thresholds are tested on many curves, not one.
Formats: LLaMA-Factory (trainer_log.jsonl + training_args.yaml), HF (trainer_state.json only),
tiaocan (trainer_log.jsonl with grad_norm + trainer_state.json + run_summary.json + tiaocan_config.yaml).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

# expected: finding ids that must be found; allowed: ids that may also fire without counting as false.
SCENARIOS: dict[str, dict] = {
    "healthy": {"expected": [], "allowed": []},
    "healthy_running": {"expected": [], "allowed": []},
    "lr_high_nan": {"expected": ["divergence"], "allowed": ["loss_spikes", "grad_norm_explosion", "noisy_loss"]},
    "lr_high_rise": {"expected": ["divergence"], "allowed": ["loss_spikes", "grad_norm_explosion", "noisy_loss", "underfitting"]},
    "lr_low": {"expected": ["plateau"], "allowed": []},
    "too_many_epochs": {"expected": ["overfitting|memorisation|epoch_drops"], "allowed": ["overfitting", "memorisation", "epoch_drops"]},
    "batch1_high_lr": {"expected": ["noisy_loss"], "allowed": ["loss_spikes", "grad_norm_explosion"]},
    "underfit": {"expected": ["underfitting"], "allowed": []},
    "spikes": {"expected": ["loss_spikes"], "allowed": ["grad_norm_explosion"]},
    "grad_explosion": {"expected": ["grad_norm_explosion"], "allowed": ["loss_spikes"]},
    "warmup_too_long": {"expected": ["warmup_too_long"], "allowed": ["underfitting"]},
    "constant_lr": {"expected": ["lr_not_decayed"], "allowed": []},
    "fp16_overflow": {"expected": ["fp16_overflow"], "allowed": ["divergence", "grad_norm_explosion"]},
}


NEEDS_GRAD_NORM = {"grad_explosion"}


@dataclass
class Setup:
    n_steps: int = 200
    lr: float = 2e-4
    warmup_ratio: float = 0.05
    scheduler: str = "cosine"
    batch: int = 4
    accum: int = 4
    epochs: float = 3.0
    start: float = 2.2
    floor: float = 1.0
    tau: float = 0.25          # in units of run progress
    noise: float = 0.45        # per-example relative loss scatter
    eval_gap: float = 0.08
    logging_steps: int = 1
    fp16: bool = False
    extra: dict = field(default_factory=dict)


def lr_curve(s: Setup, t: np.ndarray) -> np.ndarray:
    w = max(1, int(round(s.warmup_ratio * s.n_steps)))
    warm = np.minimum(1.0, (t + 1) / w) if s.warmup_ratio > 0 else np.ones_like(t, dtype=float)
    prog = np.clip((t - w) / max(1, s.n_steps - w), 0, 1)
    decay = 0.5 * (1 + np.cos(np.pi * prog)) if s.scheduler == "cosine" else np.ones_like(prog)
    return s.lr * np.where(t < w, warm, decay)


def simulate(kind: str, seed: int, n_steps: int) -> tuple[Setup, dict]:
    rng = np.random.default_rng(seed)
    s = Setup(n_steps=n_steps, start=float(rng.uniform(1.8, 2.8)), floor=float(rng.uniform(0.85, 1.15)),
              tau=float(rng.uniform(0.15, 0.3)), noise=float(rng.uniform(0.35, 0.55)))
    t = np.arange(n_steps, dtype=float)
    p = t / n_steps
    if kind == "underfit":
        # one epoch at a rate that leaves the loss well above the band (>= ~1.65) and still on its way down
        s.tau, s.epochs, s.start = 2.0, 1.0, float(rng.uniform(2.2, 2.8))
    if kind == "lr_low":
        s.lr, s.tau = 1e-6, 60.0
    if kind == "warmup_too_long":
        s.warmup_ratio, s.tau = 0.85, 0.6
    if kind == "constant_lr":
        s.scheduler = "constant"
    if kind == "batch1_high_lr":
        s.batch, s.accum, s.lr = 1, 1, 5e-4
    if kind == "too_many_epochs":
        s.batch, s.accum, s.epochs, s.floor, s.tau = 2, 2, 15.0, 0.03, 0.3
    if kind == "fp16_overflow":
        s.fp16 = True
    lr = lr_curve(s, t)
    # progress is driven by the integrated lr, so warmup and lr level shape the curve like in real runs
    drive = np.cumsum(lr) / max(np.sum(lr_curve(Setup(n_steps=n_steps), t)), 1e-12)
    level = s.floor + (s.start - s.floor) * np.exp(-drive / s.tau)
    eff = s.batch * s.accum
    noise = rng.lognormal(0, s.noise / math.sqrt(eff), n_steps)
    loss = level * noise / math.exp((s.noise / math.sqrt(eff)) ** 2 / 2)
    gn = rng.lognormal(math.log(0.8), 0.25, n_steps) * (1 + 2 * np.exp(-t / 5))
    steps_per_epoch = n_steps / s.epochs
    eval_level = level + s.eval_gap
    if kind == "too_many_epochs":
        ep = t / steps_per_epoch
        # memorisation: the loss falls mainly at each new pass (seen examples), eval turns up after ~3 epochs
        stair = s.floor + (s.start - s.floor) * np.exp(-np.floor(ep) / 2.2) * (1 - 0.15 * (ep % 1))
        loss = stair * noise / math.exp((s.noise / math.sqrt(eff)) ** 2 / 2)
        eval_level = 1.3 + 0.08 * np.maximum(0, ep - 3) ** 1.3 + 0.6 * np.exp(-ep)
    if kind == "lr_high_nan":
        k = int(n_steps * rng.uniform(0.3, 0.5))
        loss[k:] = loss[k:] * np.exp(np.arange(n_steps - k) * 0.25)
        loss[k + 12:] = np.nan
        gn[k:] *= np.exp(np.arange(n_steps - k) * 0.3)
    if kind == "lr_high_rise":
        # too-high lr: after a short descent the loss jumps to well above its start and only creeps down
        k = int(n_steps * rng.uniform(0.1, 0.25))
        jump = s.start * rng.uniform(1.5, 3.0)
        tail = jump * (1 - 0.3 * (t[k:] - k) / n_steps)
        ramp = np.minimum(1.0, (t[k:] - k + 1) / 5)
        loss[k:] = (level[k:] * (1 - ramp) + tail * ramp) * noise[k:]
        gn[k:] *= rng.uniform(3, 8)
    if kind == "batch1_high_lr":
        pass  # the noise comes from eff batch 1
    if kind == "spikes":
        for i in rng.choice(np.arange(n_steps // 5, n_steps - 3), size=2, replace=False):
            loss[i] *= rng.uniform(2.5, 4.0)
            gn[i] *= 5
    if kind == "grad_explosion":
        for i in rng.choice(np.arange(n_steps // 4, n_steps - 3), size=3, replace=False):
            gn[i] *= rng.uniform(30, 80)
    if kind == "fp16_overflow":
        k = int(n_steps * rng.uniform(0.4, 0.7))
        loss[k:] = 0.0
        gn[k:] = np.nan
    if kind == "healthy_running":
        keep = int(n_steps * rng.uniform(0.4, 0.7))
        loss, lr, gn = loss[:keep], lr[:keep], gn[:keep]
    rec = {"loss": loss, "lr": lr, "grad_norm": gn, "eval_level": eval_level, "steps_per_epoch": steps_per_epoch,
           "total": n_steps, "running": kind == "healthy_running",
           "eval_noise": rng.normal(0, 0.01, n_steps)}
    return s, rec


def _records(s: Setup, r: dict) -> tuple[list[dict], list[dict]]:
    train, evals = [], []
    n = len(r["loss"])
    eval_every = max(1, r["total"] // 10)
    for i in range(0, n, s.logging_steps):
        step = i + 1
        sl = slice(max(0, i - s.logging_steps + 1), i + 1)
        lv = float(np.mean(r["loss"][sl]))
        train.append({"step": step, "loss": round(lv, 4) if math.isfinite(lv) else lv,
                      "learning_rate": float(r["lr"][i]), "grad_norm": float(r["grad_norm"][i]),
                      "epoch": round(step / r["steps_per_epoch"], 4)})
        if step % eval_every == 0:
            evals.append({"step": step, "eval_loss": round(float(r["eval_level"][i] + r["eval_noise"][i]), 4),
                          "epoch": round(step / r["steps_per_epoch"], 4)})
    return train, evals


def _dump(v: dict) -> str:
    return json.dumps(v)  # NaN written bare, as HF/LF do


def write_run(out: Path, kind: str, seed: int, fmt: str, n_steps: int = 200) -> Path:
    s, r = simulate(kind, seed, n_steps)
    train, evals = _records(s, r)
    out.mkdir(parents=True, exist_ok=True)
    cfg = {"model_name_or_path": "smollm2-135m", "finetuning_type": "lora", "learning_rate": s.lr,
           "num_train_epochs": s.epochs, "per_device_train_batch_size": s.batch,
           "gradient_accumulation_steps": s.accum, "lr_scheduler_type": s.scheduler,
           "warmup_ratio": s.warmup_ratio, "max_grad_norm": 1.0, "fp16": s.fp16, "cutoff_len": 1024,
           "logging_steps": s.logging_steps}
    total = r["total"]
    merged = sorted([("t", x) for x in train] + [("e", x) for x in evals], key=lambda kv: (kv[1]["step"], kv[0] == "e"))
    if fmt in ("llamafactory", "tiaocan"):
        lines = []
        for kind_, x in merged:
            base = {"current_steps": x["step"], "total_steps": total}
            if kind_ == "t":
                base.update(loss=x["loss"], lr=x["learning_rate"], epoch=x["epoch"])
                if fmt == "tiaocan":
                    base["grad_norm"] = x["grad_norm"]
            else:
                base.update(eval_loss=x["eval_loss"], epoch=x["epoch"])
            base.update(percentage=round(100 * x["step"] / total, 2), elapsed_time="0:00:10", remaining_time="0:00:10")
            lines.append(_dump(base))
        text = "\n".join(lines) + "\n"
        if r["running"]:
            text = text[: len(text) - len(lines[-1]) // 2 - 1]  # the writer was mid-line
        (out / "trainer_log.jsonl").write_text(text)
        name = "tiaocan_config.yaml" if fmt == "tiaocan" else "training_args.yaml"
        (out / name).write_text(yaml.safe_dump(cfg, sort_keys=False))
    if fmt == "hf" and r["running"]:
        # mid-run HF keeps its state only inside the newest checkpoint (saved every 20 steps here)
        last = (len(r["loss"]) // 20) * 20
        hist = [x for _, x in merged if x["step"] <= last]
        ck = out / f"checkpoint-{last}"
        ck.mkdir(exist_ok=True)
        (ck / "trainer_state.json").write_text(json.dumps({"global_step": last, "max_steps": total, "log_history": hist}, indent=2))
    if fmt in ("hf", "tiaocan") and not r["running"]:
        hist = [x for _, x in merged]
        state = {"global_step": len(r["loss"]), "max_steps": total, "num_train_epochs": s.epochs,
                 "logging_steps": s.logging_steps, "train_batch_size": s.batch, "log_history": hist}
        if fmt == "hf":
            hist.append({"step": total, "train_loss": 1.0, "train_runtime": 100.0, "epoch": s.epochs})
        (out / "trainer_state.json").write_text(json.dumps(state, indent=2))
    if fmt == "tiaocan" and not r["running"]:
        (out / "run_summary.json").write_text(json.dumps({"output_dir": str(out), "stop_reason": "completed",
                                                          "global_step": len(r["loss"]), "total_steps": total}))
    return out


def build_set(root: Path, seeds=(0, 1, 2), lengths=(60, 300), formats=("llamafactory", "hf", "tiaocan")) -> list[tuple[Path, str]]:
    """Every scenario x seed x length, cycling through the formats; returns (run dir, scenario)."""
    runs, i = [], 0
    for kind in SCENARIOS:
        for seed in seeds:
            for n in lengths:
                fmt = formats[i % len(formats)]
                i += 1
                if kind in NEEDS_GRAD_NORM and fmt == "llamafactory":
                    fmt = "tiaocan"  # LLaMA-Factory's trainer_log.jsonl carries no grad_norm
                runs.append((write_run(root / f"{kind}-s{seed}-n{n}-{fmt}", kind, 1000 * seed + n, fmt, n), kind))
    return runs
