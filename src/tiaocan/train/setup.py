"""Setup helpers for a run: config resolution, the output directory rule, runtime flags, TrainingArguments."""
from __future__ import annotations

import math
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..config import TrainConfig, build_config, load_config
from ..errors import UserError

# Files and folders that mark a directory as holding a training run.
RUN_MARKERS = ("tiaocan_config.yaml", "trainer_state.json", "run_summary.json", "trainer_log.jsonl",
               "adapter_config.json", "adapter_model.safetensors", "model.safetensors", "training_loss.png")
# Keys a resumed run may change without becoming a different run (budget, logging, stopping rules).
RESUME_MAY_CHANGE = {"num_train_epochs", "max_steps", "output_dir", "overwrite_output_dir", "logging_steps",
                     "eval_steps", "save_steps", "save_total_limit", "plot_loss", "report_to", "merge_adapter",
                     "stop_loss_band", "early_stopping_patience", "divergence_factor", "per_device_eval_batch_size"}


def resolve_config(config: TrainConfig | dict | str | os.PathLike) -> TrainConfig:
    if isinstance(config, TrainConfig):
        return config.model_copy(deep=True)
    if isinstance(config, dict):
        return build_config(dict(config))
    return load_config(config)


def validate(cfg: TrainConfig) -> None:
    """Cross-checks that need the run context (the config's own checks already ran)."""
    if cfg.loraplus_lr_ratio and cfg.finetuning_type != "lora":
        raise UserError("loraplus_lr_ratio is set but finetuning_type is full: LoRA+ only applies to LoRA adapters. "
                        "Remove loraplus_lr_ratio or use finetuning_type: lora.")
    if cfg.fp16 and not torch.cuda.is_available():
        raise UserError("fp16: true needs a CUDA GPU; on CPU use bf16: true (autocast) or neither.")
    if cfg.merge_adapter and cfg.finetuning_type != "lora":
        raise UserError("merge_adapter: true only applies to finetuning_type: lora (a full fine-tune is already merged).")


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_main_process() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def _checkpoints(out: Path) -> list[Path]:
    return sorted((p for p in out.glob("checkpoint-*") if p.is_dir() and p.name.split("-")[-1].isdigit()),
                  key=lambda p: int(p.name.split("-")[-1]))


def holds_run(out: Path) -> bool:
    return out.is_dir() and (any((out / m).exists() for m in RUN_MARKERS) or bool(_checkpoints(out)))


def prepare_output_dir(cfg: TrainConfig, resume: bool, overwrite: bool) -> str | None:
    """Apply the output_dir rule; return the checkpoint to resume from (or None).

    A directory holding a run is never reused silently: --resume continues it (same training settings),
    --overwrite replaces it, anything else is refused with a message that names the way out.
    """
    from ..config import load_config as _load

    out = Path(cfg.output_dir)
    if resume:
        ckpts = _checkpoints(out)
        if not ckpts:
            raise UserError(f"--resume: output_dir {out} has no checkpoint-N folder to resume from. "
                            "Run without --resume to start training.")
        saved = out / "tiaocan_config.yaml"
        if saved.is_file():
            before = _load(saved).model_dump()
            now = cfg.model_dump()
            changed = sorted(k for k in now if k not in RESUME_MAY_CHANGE and before.get(k) != now.get(k))
            if changed:
                raise UserError(f"--resume: output_dir {out} holds a run with different settings ({', '.join(changed)}). "
                                "Resume with the same settings, or start a new run with --overwrite or another output_dir.")
        return str(ckpts[-1])
    if holds_run(out):
        if not overwrite:
            raise UserError(f"output_dir {out} already holds a training run. Pass --overwrite (or "
                            "overwrite_output_dir: true) to replace it, --resume to continue it, or choose another output_dir.")
        if is_main_process():
            for p in [*_checkpoints(out), out / "merged", out / "runs"]:
                shutil.rmtree(p, ignore_errors=True)
            for name in (*RUN_MARKERS, "README.md", "tokenizer.json", "tokenizer_config.json", "chat_template.jinja",
                         "special_tokens_map.json", "config.json", "generation_config.json", "training_args.bin"):
                (out / name).unlink(missing_ok=True)
    return None


def cpu_has_bf16() -> bool:
    """Does this CPU compute bf16 natively (AVX512-BF16 / AMX)? Without it bf16 matmuls are emulated and slow."""
    try:
        return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    except AttributeError:  # private helpers; absent in some torch builds
        return False


def setup_runtime(cfg: TrainConfig) -> None:
    from transformers import set_seed

    if not torch.cuda.is_available():
        # Denormal floats (tiny values near 0, common in late-training gradients and Adam states) run through a
        # slow microcode path on x86 CPUs; flushing them to zero costs no accuracy that matters here and avoids
        # up to ~10x slowdowns. Process-wide and left on: later runs in this process want it too.
        torch.set_flush_denormal(True)
    set_seed(cfg.seed)


@dataclass
class Schedule:
    """Derived quantities, computed the way transformers' Trainer computes them."""

    devices: int
    effective_batch: int
    steps_per_epoch: int
    total_steps: int
    warmup_steps: int
    eval_steps: int | None
    save_steps: int


def schedule(cfg: TrainConfig, n_train: int, has_eval: bool) -> Schedule:
    devices = world_size()
    per_device_examples = math.ceil(n_train / devices)  # DistributedSampler pads to equal shards
    micro_batches = math.ceil(per_device_examples / cfg.per_device_train_batch_size)
    steps_per_epoch = max(math.ceil(micro_batches / cfg.gradient_accumulation_steps), 1)
    total = cfg.max_steps if cfg.max_steps > 0 else math.ceil(cfg.num_train_epochs * steps_per_epoch)
    warmup = cfg.warmup_steps if cfg.warmup_steps > 0 else math.ceil(cfg.warmup_ratio * total)
    eval_steps = (cfg.eval_steps or max(1, total // 10)) if has_eval else None
    save_steps = cfg.save_steps or eval_steps or max(1, total // 10)
    if cfg.early_stopping_patience and eval_steps:
        save_steps = eval_steps  # keeping the best checkpoint needs a checkpoint at every eval
    return Schedule(devices, cfg.effective_batch(devices), steps_per_epoch, total, min(warmup, total),
                    eval_steps, save_steps)


def scheduler_kwargs(cfg: TrainConfig, sched: Schedule) -> dict[str, Any]:
    if cfg.lr_scheduler_type == "warmup_stable_decay":
        # Decay over the last 10% of steps (the WSD papers use 10-20%); stable in between.
        # (the stable phase is what remains of the total steps the Trainer passes in)
        return {"num_decay_steps": max(1, sched.total_steps // 10)}
    if cfg.lr_scheduler_type == "cosine_with_min_lr":
        return {"min_lr_rate": 0.1}
    return {}


def training_arguments(cfg: TrainConfig, sched: Schedule, packed: bool, group_by_length: bool):
    from transformers import TrainingArguments

    has_eval = sched.eval_steps is not None
    use_cpu = not torch.cuda.is_available()
    report_to = [r.strip() for r in cfg.report_to.split(",") if r.strip() and r.strip() != "none"] or "none"
    return TrainingArguments(
        output_dir=cfg.output_dir,
        per_device_train_batch_size=cfg.per_device_train_batch_size,
        per_device_eval_batch_size=cfg.per_device_eval_batch_size,
        gradient_accumulation_steps=cfg.gradient_accumulation_steps,
        learning_rate=cfg.learning_rate,
        num_train_epochs=cfg.num_train_epochs,
        max_steps=sched.total_steps,  # explicit, so fractional epochs and our printout agree with the Trainer
        lr_scheduler_type=cfg.lr_scheduler_type,
        lr_scheduler_kwargs=scheduler_kwargs(cfg, sched),
        warmup_steps=sched.warmup_steps,
        weight_decay=cfg.weight_decay,
        max_grad_norm=cfg.max_grad_norm,
        optim=cfg.optim,
        bf16=cfg.bf16,
        fp16=cfg.fp16,
        activation_checkpointing=cfg.gradient_checkpointing,  # transformers 5's name for gradient checkpointing
        activation_checkpointing_kwargs={"use_reentrant": False} if cfg.gradient_checkpointing else None,
        seed=cfg.seed,
        data_seed=cfg.seed,
        logging_steps=cfg.logging_steps,
        logging_nan_inf_filter=False,  # the divergence guard must see NaN/inf, not a patched-over average
        eval_strategy="steps" if has_eval else "no",
        eval_steps=sched.eval_steps,
        save_strategy="steps",
        save_steps=sched.save_steps,
        save_total_limit=cfg.save_total_limit,
        load_best_model_at_end=bool(cfg.early_stopping_patience and has_eval),
        metric_for_best_model="eval_loss" if has_eval else None,
        greater_is_better=False if has_eval else None,
        report_to=report_to,
        disable_tqdm=True,  # our own progress bar
        include_num_input_tokens_seen="all" if packed else "non_padding",
        train_sampling_strategy="group_by_length" if group_by_length else "random",
        use_cpu=use_cpu,
        ddp_backend="gloo" if use_cpu and world_size() > 1 else None,
        ddp_find_unused_parameters=False if world_size() > 1 else None,
        dataloader_num_workers=0,
        log_level="warning",
    )
