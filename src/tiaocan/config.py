"""TrainConfig: one typed config for plan, train, tune and export.

Key names are LLaMA-Factory's wherever LLaMA-Factory has the key, so a user's LLaMA-Factory SFT YAML
loads as is and our plans export back to it. Each field's description is its help text.
"""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .errors import UserError

# Defined once here, the lowest layer: the config's validation, the CLI flags, inspect, the plan's epochs rule,
# diagnose and the truncation function all read these instead of repeating them.
TRUNCATIONS = ("keep_response", "drop", "cut_end")
Truncation = Literal[TRUNCATIONS]  # type: ignore[valid-type]  # Literal[("a", "b")] == Literal["a", "b"]
MIN_CUTOFF_LEN = 8  # below this no chat template leaves room for text
LOSS_BAND = (0.7, 1.4)  # the practitioner's target train-loss band: plan's stop_loss_band, diagnose's default


def parse_band(v: Any) -> tuple[float, float] | None:
    """A loss band from YAML / CLI text ('0.7,1.4', '[0.7, 1.4]') or a pair; ValueError says what is wrong."""
    if v is None:
        return None
    try:
        lo, hi = (float(x) for x in (v.strip("[]() ").split(",") if isinstance(v, str) else v))
    except (TypeError, ValueError):
        raise ValueError(f"{v!r} is not two numbers [low, high], e.g. [0.7, 1.4]") from None
    if not 0 <= lo < hi:
        raise ValueError(f"{v!r}: need 0 <= low < high, e.g. [0.7, 1.4]")
    return lo, hi


def check_window(cutoff_len: int | None, truncation: str, flags: tuple[str, str] = ("cutoff_len", "truncation")) -> None:
    """cutoff_len / truncation given outside a TrainConfig (CLI flags, inspect's API): the config's own rules."""
    if truncation not in TRUNCATIONS:
        raise UserError(f"{flags[1]} {truncation!r}: use {', '.join(TRUNCATIONS[:-1])} or {TRUNCATIONS[-1]}")
    if cutoff_len is not None and cutoff_len < MIN_CUTOFF_LEN:
        raise UserError(f"{flags[0]} {cutoff_len}: must be at least {MIN_CUTOFF_LEN}")


class TrainConfig(BaseModel):
    """Everything one fine-tuning run needs. Defaults are sane for a small LoRA run."""

    model_config = ConfigDict(extra="allow", validate_assignment=True)

    # --- model
    model_name_or_path: str = Field("smollm2-135m", description="Local HF model dir, hub id, or the embedded 'smollm2-135m'.")
    trust_remote_code: bool = Field(False, description="Run model code shipped with the checkpoint (off unless you trust it).")

    # --- data
    dataset: str | None = Field(None, description="Data file (json/jsonl/csv/parquet) or comma-separated dataset names from dataset_dir/dataset_info.json.")
    dataset_dir: str = Field("data", description="Folder holding dataset_info.json (LLaMA-Factory layout).")
    eval_dataset: str | None = Field(None, description="Held-out data file or dataset name(s); overrides val_size.")
    formatting: Literal["auto", "alpaca", "sharegpt", "openai"] = Field("auto", description="Dataset format; 'auto' detects it from the columns.")
    template: str | None = Field(None, description="LLaMA-Factory template name; tiaocan renders with the tokenizer's own chat template.")
    cutoff_len: int = Field(1024, ge=MIN_CUTOFF_LEN, le=1_048_576, description="Max tokens per example (prompt + response). Run `tiaocan inspect` to choose it.")
    truncation: Truncation = Field("keep_response", description="Over-long examples: keep_response (trim prompt from the left), drop, or cut_end (LLaMA-Factory-like).")
    max_samples: int | None = Field(None, ge=1, description="Use at most this many training examples.")
    val_size: float | int = Field(0.0, ge=0.0, description="Held-out share (<1) or count (>=1) of the training data for eval loss.")
    train_on_prompt: bool = Field(False, description="Also compute loss on prompt tokens (default: responses only).")

    # --- method
    stage: Literal["sft"] = Field("sft", description="Training stage; tiaocan trains supervised fine-tuning (sft).")
    do_train: bool = Field(True, description="Kept for LLaMA-Factory compatibility.")
    finetuning_type: Literal["lora", "full"] = Field("lora", description="lora (adapters) or full (all weights).")
    quantization_bit: Literal[4, 8] | None = Field(None, description="Load the base model in 4/8 bit (QLoRA, needs a CUDA GPU + bitsandbytes).")
    lora_rank: int = Field(8, ge=1, le=4096, description="LoRA rank r: adapter capacity.")
    lora_alpha: int | None = Field(None, ge=1, description="LoRA scaling numerator; default 2 x lora_rank.")
    lora_dropout: float = Field(0.0, ge=0.0, lt=1.0, description="Dropout on the LoRA input.")
    lora_target: str = Field("all", description="Comma-separated module names for LoRA, or 'all' (every linear layer but the head).")
    loraplus_lr_ratio: float | None = Field(None, gt=0.0, le=1024.0, description="LoRA+: B matrices learn this many times faster than A (16 is the paper's suggestion).")
    loraplus_lr_embedding: float = Field(1e-6, gt=0.0, description="LoRA+ learning rate for embedding adapters.")
    use_rslora: bool = Field(False, description="Rank-stabilised LoRA scaling (alpha / sqrt(r)).")
    use_dora: bool = Field(False, description="Weight-decomposed LoRA (DoRA).")

    # --- optimisation
    learning_rate: float = Field(1e-4, gt=0.0, le=1.0, description="Peak learning rate (e.g. 5e-5 = 0.00005).")
    num_train_epochs: float = Field(3.0, gt=0.0, le=1000.0, description="Passes over the data; a ceiling when stop_loss_band is set.")
    max_steps: int = Field(-1, ge=-1, description="Stop after this many optimizer steps (-1: use num_train_epochs).")
    per_device_train_batch_size: int = Field(1, ge=1, le=65536, description="Examples per device per micro-step.")
    per_device_eval_batch_size: int = Field(1, ge=1, description="Examples per device per eval step.")
    gradient_accumulation_steps: int = Field(8, ge=1, le=65536, description="Micro-steps per optimizer step; effective batch = micro batch x this x devices.")
    lr_scheduler_type: Literal["cosine", "linear", "constant", "constant_with_warmup", "warmup_stable_decay", "cosine_with_min_lr"] = Field("cosine", description="Learning-rate schedule after warmup.")
    warmup_ratio: float = Field(0.0, ge=0.0, le=1.0, description="Share of total steps spent warming the lr up.")
    warmup_steps: int = Field(0, ge=0, description="Warmup steps (overrides warmup_ratio when > 0).")
    weight_decay: float = Field(0.0, ge=0.0, description="AdamW weight decay.")
    max_grad_norm: float = Field(1.0, ge=0.0, description="Gradient clipping norm (0: off).")
    optim: str = Field("adamw_torch", description="Optimizer name (transformers' names).")
    bf16: bool = Field(False, description="bfloat16 mixed precision (CPU autocast included).")
    fp16: bool = Field(False, description="float16 mixed precision (CUDA only).")
    gradient_checkpointing: bool = Field(False, description="Recompute activations in backward: less memory, ~30% slower.")
    packing: bool = Field(False, description="Pack several examples into one sequence (padding-free, attention kept per example).")
    seed: int = Field(42, description="Random seed for data order and adapter init.")

    # --- stopping (tiaocan)
    stop_loss_band: tuple[float, float] | None = Field(None, description="Stop once smoothed train loss is inside [low, high] and eval loss stops improving, e.g. [0.7, 1.4].")
    early_stopping_patience: int | None = Field(None, ge=1, description="Stop after this many evals without eval-loss improvement (keeps the best checkpoint).")
    divergence_factor: float = Field(3.0, gt=1.0, description="Divergence guard: stop when smoothed loss exceeds this x its starting value.")

    # --- output / logging
    output_dir: str = Field("runs/tiaocan", description="Run directory (adapter, logs, checkpoints).")
    overwrite_output_dir: bool = Field(False, description="Allow replacing a different run in output_dir.")
    logging_steps: int = Field(1, ge=1, description="Log train loss every N optimizer steps.")
    eval_steps: int | None = Field(None, ge=1, description="Evaluate every N steps (default: ~10 evals per run).")
    save_steps: int | None = Field(None, ge=1, description="Checkpoint every N steps (default: with each eval).")
    save_total_limit: int | None = Field(2, ge=1, description="Keep at most this many checkpoints.")
    plot_loss: bool = Field(True, description="Write training_loss.png.")
    report_to: str = Field("none", description="none, tensorboard, wandb or mlflow (comma-separated).")
    merge_adapter: bool = Field(False, description="Also write the base model merged with the adapter (merged/).")

    @field_validator("val_size", mode="after")
    @classmethod
    def _val_size_count_is_int(cls, v):
        """A count of examples is written as one (24, not 24.0) in every YAML that carries it (plan, exports)."""
        return int(v) if v >= 1 and float(v).is_integer() else float(v)

    @field_validator("stop_loss_band", mode="before")
    @classmethod
    def _band(cls, v: Any) -> Any:
        try:
            return parse_band(v)
        except ValueError as e:
            raise ValueError(f"stop_loss_band {e}") from None

    @field_validator("lora_target", mode="before")
    @classmethod
    def _target(cls, v: Any) -> Any:
        return ",".join(v) if isinstance(v, (list, tuple)) else v

    @model_validator(mode="after")
    def _cross_checks(self) -> "TrainConfig":
        if self.bf16 and self.fp16:
            raise ValueError("bf16 and fp16 are both true: choose one")
        if self.quantization_bit and self.finetuning_type != "lora":
            raise ValueError("quantization_bit needs finetuning_type: lora (QLoRA)")
        return self

    # derived values, named once
    @property
    def effective_lora_alpha(self) -> int:
        return self.lora_alpha or 2 * self.lora_rank

    def effective_batch(self, devices: int = 1) -> int:
        return self.per_device_train_batch_size * self.gradient_accumulation_steps * devices

    def extra_keys(self) -> dict[str, Any]:
        return dict(self.model_extra or {})

    def to_yaml_dict(self, include_defaults: bool = False) -> dict[str, Any]:
        d = self.model_dump(exclude_unset=not include_defaults, exclude_none=True)
        if self.stop_loss_band:
            d["stop_loss_band"] = list(self.stop_loss_band)
        return d


# LLaMA-Factory keys we accept and ignore because they do not change what is trained here.
HARMLESS_LF_KEYS = {
    "overwrite_cache", "preprocessing_num_workers", "dataloader_num_workers", "ddp_timeout",
    "save_only_model", "plot_loss", "flash_attn", "enable_liger_kernel", "use_unsloth",
    "resume_from_checkpoint", "do_eval", "do_predict", "eval_strategy", "evaluation_strategy",
    "save_strategy", "logging_dir", "run_name", "include_num_input_tokens_seen", "tokenized_path",
    "streaming", "buffer_size", "mix_strategy", "interleave_probs", "deepspeed", "fsdp",
    "dataloader_pin_memory", "disable_tqdm", "ray_num_workers", "ray_run_name", "trust_remote_code",
    "export_dir", "export_size", "export_device", "export_legacy_format", "infer_backend",
    "default_system", "enable_thinking", "hub_model_id", "push_to_hub", "print_param_status",
    "upcast_layernorm", "upcast_lmhead_output", "disable_gradient_checkpointing", "low_cpu_mem_usage",
    "compute_accuracy", "predict_with_generate", "save_safetensors", "ddp_find_unused_parameters",
    "neat_packing",  # read by build_config: tiaocan's packing is LLaMA-Factory's neat packing
}
# LLaMA-Factory keys that change training and that tiaocan does not implement: refuse, never ignore.
UNSUPPORTED_LF_KEYS = {
    "neftune_noise_alpha": "NEFTune noise", "pissa_init": "PiSSA init", "use_galore": "GaLore",
    "use_badam": "BAdam", "use_apollo": "APOLLO", "freeze_trainable_layers": "freeze tuning",
    "additional_target": "extra trainable modules", "rope_scaling": "RoPE scaling",
    "pref_beta": "preference training",
    "mask_history": "history masking", "loraplus_lr_embedding_ratio": "LoRA+ embedding ratio",
    "use_llama_pro": "LLaMA Pro", "shift_attn": "shift short attention", "create_new_adapter": "stacked adapters",
    "adapter_name_or_path": "continuing a previous adapter",
}


def key_help() -> list[tuple[str, Any, str]]:
    """(key, default, description) for every TrainConfig key: the field descriptions above are the one source of
    `tiaocan train --help` and of `tiaocan explain` for keys without a longer entry."""
    return [(k, f.default, f.description or "") for k, f in TrainConfig.model_fields.items()]


def _coerce_override(value: str) -> Any:
    """key=value overrides come from the shell as text: parse them as YAML scalars (1e-4, true, [0.7,1.4])."""
    parsed = yaml.safe_load(value)
    return value if parsed is None and value not in ("null", "~", "") else parsed


def parse_overrides(items: list[str] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items or []:
        if "=" not in item:
            raise UserError(f"override '{item}' is not key=value (e.g. learning_rate=5e-5)")
        k, v = item.split("=", 1)
        out[k.strip()] = _coerce_override(v.strip())
    return out


def build_config(data: dict[str, Any], source: str = "config") -> TrainConfig:
    """Validate a dict into a TrainConfig; errors name the key and the allowed range."""
    data = {k: v for k, v in data.items() if v is not None or k in TrainConfig.model_fields}
    bad = [f"{k} ({why})" for k, why in UNSUPPORTED_LF_KEYS.items() if data.get(k) not in (None, False, 0, "", [])]
    if bad:
        raise UserError(f"{source}: these keys change training but tiaocan does not implement them: {', '.join(bad)}. "
                        "Remove them, or train with LLaMA-Factory.")
    if data.get("stage", "sft") != "sft":
        raise UserError(f"{source}: stage: {data['stage']} is not supported; tiaocan trains stage: sft")
    if data.get("neat_packing"):  # LLaMA-Factory's packing without cross-attention = tiaocan's packing
        data["packing"] = True
    if data.get("finetuning_type") == "freeze":
        raise UserError(f"{source}: finetuning_type: freeze is not supported; use lora or full")
    try:
        cfg = TrainConfig(**data)
    except ValidationError as e:
        msgs = []
        for err in e.errors():
            key = ".".join(str(p) for p in err["loc"]) or "config"
            got = err.get("input")
            msgs.append(f"{key}: {err['msg']} (got {got!r})" if key != "config" else err["msg"])
        raise UserError(f"{source}: invalid value(s):\n  " + "\n  ".join(msgs)) from None
    unknown = set(cfg.extra_keys()) - HARMLESS_LF_KEYS
    if unknown:
        warnings.warn(f"{source}: unknown keys ignored: {', '.join(sorted(unknown))} (check the spelling)", stacklevel=2)
    return cfg


def load_config(path: str | Path | None, overrides: list[str] | dict[str, Any] | None = None) -> TrainConfig:
    """Read a YAML config (LLaMA-Factory keys) and apply key=value overrides."""
    data: dict[str, Any] = {}
    if path is not None:
        from .textio import check_readable, read_text

        p = check_readable(path, "config file")
        try:
            data = yaml.safe_load(read_text(p)) or {}
        except yaml.YAMLError as e:
            raise UserError(f"{p}: not valid YAML: {e}") from None
        if not isinstance(data, dict):
            raise UserError(f"{p}: expected a mapping of key: value at the top level")
    ov = overrides if isinstance(overrides, dict) else parse_overrides(overrides)
    data.update(ov)
    return build_config(data, source=str(path) if path else "overrides")


def save_config(cfg: TrainConfig, path: str | Path, include_defaults: bool = True) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(yaml.safe_dump(cfg.to_yaml_dict(include_defaults), sort_keys=False, allow_unicode=True), encoding="utf-8")
    return p
