"""Setup helpers for a run: config resolution, runtime flags, TrainingArguments (the output_dir rule: outdir.py)."""
from __future__ import annotations

import os

import torch

from ..config import TrainConfig, build_config, load_config
from ..derive import Schedule, schedule as derive_schedule
from ..errors import UserError


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
    validate_choices(cfg)


def validate_choices(cfg: TrainConfig) -> None:
    """optim and report_to are checked by transformers only once the model is loaded; say it now, with the choices."""
    import difflib

    from transformers.integrations.integration_utils import INTEGRATION_TO_CALLBACK
    from transformers.training_args import OptimizerNames

    optims = [o.value for o in OptimizerNames]
    if cfg.optim not in optims:
        near = difflib.get_close_matches(cfg.optim, optims, n=3)
        raise UserError(f"optim: {cfg.optim!r} is not an optimizer transformers knows"
                        + (f" (did you mean {', '.join(near)}?)" if near else f"; e.g. {', '.join(optims[:6])}"))
    known = sorted(INTEGRATION_TO_CALLBACK) + ["all", "none"]
    for r in (x.strip() for x in cfg.report_to.split(",")):
        if r and r not in known:
            near = difflib.get_close_matches(r, known, n=2)
            raise UserError(f"report_to: {r!r} is not a logger transformers knows"
                            + (f" (did you mean {', '.join(near)}?)" if near else f"; choose from {', '.join(known)}"))


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_main_process() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def setup_runtime(cfg: TrainConfig) -> None:
    from transformers import set_seed

    if not torch.cuda.is_available():
        # Denormal floats (tiny values near 0, common in late-training gradients and Adam states) run through a
        # slow microcode path on x86 CPUs; flushing them to zero costs no accuracy that matters here and avoids
        # up to ~10x slowdowns. Process-wide and left on: later runs in this process want it too.
        torch.set_flush_denormal(True)
    set_seed(cfg.seed)


def schedule(cfg: TrainConfig, n_train: int, n_eval: int) -> Schedule:
    """The run's derived numbers over this process group's devices (derive.py: the plan predicts the same)."""
    return derive_schedule(cfg, n_train, n_eval, world_size())


def training_arguments(cfg: TrainConfig, sched: Schedule, packed: bool, group_by_length: bool):
    """The same config → TrainingArguments mapping `export --to hf` writes (hf.py), plus this machine's keys."""
    from .. import hf

    runtime = hf.runtime_kwargs(use_cpu=not torch.cuda.is_available(), world_size=world_size(), packed=packed,
                                group_by_length=group_by_length)
    kwargs = {**hf.training_kwargs(cfg, sched), **{k: v for k, v in runtime.items() if v is not None}}
    return hf.training_arguments(kwargs)
