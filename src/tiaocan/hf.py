"""TrainConfig → Hugging Face `TrainingArguments` / PEFT `LoraConfig` keyword arguments, written once.

`tiaocan train` and `tiaocan export --to hf` both call these, so an exported training_args.json is the run
tiaocan would do, not a second, drifting guess (the export used to set `gradient_checkpointing` where train set
`activation_checkpointing` with non-reentrant kwargs, and dropped keys the installed transformers lacked
without a word). Two kinds of keys:
- config keys: what the YAML says, plus the schedule when the data is known (`Schedule` from derive.py:
  train passes it; the export has no data, so it writes epochs and the warmup *ratio*, which the Trainer
  resolves to the same steps by the same rule — tests/test_hf_mapping.py checks that);
- runtime keys (`runtime_kwargs`): this machine and this process (CPU, DDP backend, our progress bar and
  collator); train adds them, an export for another machine must not.
"""
from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from . import derive

if TYPE_CHECKING:
    from .config import TrainConfig
    from .derive import Schedule  # noqa: F401


def lora_targets(cfg: "TrainConfig") -> str | list[str]:
    """'all' → PEFT's 'all-linear' (every linear layer but the output head); else the named modules."""
    wanted = [t.strip() for t in cfg.lora_target.split(",") if t.strip()]
    return "all-linear" if not wanted or wanted in (["all"], ["all-linear"]) else wanted


def lora_kwargs(cfg: "TrainConfig", target_modules: str | list[str] | None = None) -> dict[str, Any]:
    """LoraConfig keyword arguments; `target_modules` when the caller checked the names against a model."""
    return {"task_type": "CAUSAL_LM", "r": cfg.lora_rank, "lora_alpha": cfg.effective_lora_alpha,
            "lora_dropout": cfg.lora_dropout, "target_modules": target_modules or lora_targets(cfg),
            "use_rslora": cfg.use_rslora, "use_dora": cfg.use_dora}


def scheduler_kwargs(cfg: "TrainConfig", total_steps: int | None) -> dict[str, Any]:
    if cfg.lr_scheduler_type == "warmup_stable_decay":
        # Decay over the last 10% of steps (the WSD papers use 10-20%); stable in between. Without the run's
        # length (export) transformers' own default decay length applies.
        return {"num_decay_steps": max(1, total_steps // 10)} if total_steps else {}
    if cfg.lr_scheduler_type == "cosine_with_min_lr":
        return {"min_lr_rate": 0.1}
    return {}


def training_kwargs(cfg: "TrainConfig", sched: "Schedule | None" = None) -> dict[str, Any]:
    """TrainingArguments keyword arguments for `cfg`; with `sched` (train) the steps are the derived ones."""
    has_eval = sched.eval_examples > 0 if sched else bool(cfg.eval_dataset or cfg.val_size > 0)
    report_to = [r.strip() for r in cfg.report_to.split(",") if r.strip() and r.strip() != "none"] or "none"
    if sched is not None:
        # explicit max_steps and warmup steps, so fractional epochs and train's printout agree with the Trainer
        steps = dict(max_steps=sched.total_steps, warmup_steps=sched.warmup_steps, eval_steps=sched.eval_steps,
                     save_steps=sched.save_steps)
    else:
        # transformers 5: a warmup_steps float < 1 is a ratio, resolved like derive.warmup_steps. Unset eval/save
        # cadences become derive's tenth of the run as a ratio (the Trainer rounds it up, train down: at most a
        # step apart); with early stopping, checkpoints land on evals as in train.
        eval_steps = cfg.eval_steps or (derive.EVALS_SHARE if has_eval else None)
        save_steps = eval_steps if cfg.early_stopping_patience and has_eval else \
            cfg.save_steps or eval_steps or derive.EVALS_SHARE
        steps = dict(max_steps=cfg.max_steps, warmup_steps=cfg.warmup_steps or cfg.warmup_ratio,
                     eval_steps=eval_steps, save_steps=save_steps)
    kw = dict(
        output_dir=cfg.output_dir,
        per_device_train_batch_size=cfg.per_device_train_batch_size,
        per_device_eval_batch_size=cfg.per_device_eval_batch_size,
        gradient_accumulation_steps=cfg.gradient_accumulation_steps,
        learning_rate=cfg.learning_rate,
        num_train_epochs=cfg.num_train_epochs,
        lr_scheduler_type=cfg.lr_scheduler_type,
        lr_scheduler_kwargs=scheduler_kwargs(cfg, sched.total_steps if sched else None),
        weight_decay=cfg.weight_decay,
        max_grad_norm=cfg.max_grad_norm,
        optim=cfg.optim,
        bf16=cfg.bf16,
        fp16=cfg.fp16,
        activation_checkpointing=cfg.gradient_checkpointing,  # transformers 5's name for gradient checkpointing
        # non-reentrant: works with a frozen base (LoRA) and with inputs that do not require grad
        activation_checkpointing_kwargs={"use_reentrant": False} if cfg.gradient_checkpointing else None,
        seed=cfg.seed,
        data_seed=cfg.seed,
        logging_steps=cfg.logging_steps,
        logging_nan_inf_filter=False,  # the divergence guard must see NaN/inf, not a patched-over average
        eval_strategy="steps" if has_eval else "no",
        save_strategy="steps",
        save_total_limit=cfg.save_total_limit,
        load_best_model_at_end=bool(cfg.early_stopping_patience and has_eval),
        metric_for_best_model="eval_loss" if has_eval else None,
        greater_is_better=False if has_eval else None,
        report_to=report_to,
        **steps,
    )
    return {k: v for k, v in kw.items() if v is not None}  # None = the field's own default


def runtime_kwargs(*, use_cpu: bool, world_size: int, packed: bool, group_by_length: bool) -> dict[str, Any]:
    """What depends on this machine and this run's batching, not on the config (train only)."""
    return dict(
        disable_tqdm=True,  # our own progress bar
        include_num_input_tokens_seen="all" if packed else "non_padding",
        train_sampling_strategy="group_by_length" if group_by_length else "random",
        use_cpu=use_cpu,
        ddp_backend="gloo" if use_cpu and world_size > 1 else None,
        ddp_find_unused_parameters=False if world_size > 1 else None,
        dataloader_num_workers=0,
        log_level="warning",
    )


def unknown_keys(kwargs: dict[str, Any]) -> list[str]:
    """Keys the installed transformers' TrainingArguments does not have (an older or newer version)."""
    from transformers import TrainingArguments

    fields = {f.name for f in dataclasses.fields(TrainingArguments)}
    return sorted(k for k in kwargs if k not in fields)


def training_arguments(kwargs: dict[str, Any]):
    """TrainingArguments(**kwargs), with an error that names missing keys instead of a bare TypeError."""
    import transformers

    missing = unknown_keys(kwargs)
    if missing:
        from .errors import UserError

        raise UserError(f"transformers {transformers.__version__} has no TrainingArguments field "
                        f"{', '.join(missing)}; tiaocan needs transformers 5 (pip install -U 'transformers>=5')")
    return transformers.TrainingArguments(**kwargs)
