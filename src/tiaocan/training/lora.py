"""LoRA / rsLoRA / DoRA adapters (PEFT) and the LoRA+ optimizer, from a TrainConfig.

LoRA+ follows LLaMA-Factory's `_create_loraplus_optimizer` semantics (trainer_utils.py): lora_B matrices and
1-D trainable params get `learning_rate * loraplus_lr_ratio`, lora_A and the rest get `learning_rate`,
embedding adapters get `loraplus_lr_embedding`, and every group but the no-decay B group uses `weight_decay`.
We build it through `peft.optimizers.create_loraplus_optimizer` rather than by hand.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from ..errors import UserError

if TYPE_CHECKING:
    from ..config import TrainConfig


def linear_module_names(model: torch.nn.Module) -> list[str]:
    """Short names (last path part) of every linear layer except the output head: what lora_target can name."""
    from transformers.pytorch_utils import Conv1D

    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    names = set()
    for full, module in model.named_modules():
        if isinstance(module, (torch.nn.Linear, Conv1D)) and module is not head:
            names.add(full.rsplit(".", 1)[-1])
    return sorted(names)


def resolve_targets(cfg: "TrainConfig", model: torch.nn.Module) -> str | list[str]:
    """'all' → PEFT's all-linear (excludes lm_head); otherwise check every named module exists in the model."""
    from ..hf import lora_targets

    wanted = lora_targets(cfg)
    if wanted == "all-linear":
        return wanted
    available = linear_module_names(model)
    missing = [t for t in wanted if t not in available]
    if missing:
        raise UserError(
            f"lora_target: {', '.join(missing)} matches no linear layer of {cfg.model_name_or_path}. "
            f"This model's linear layers are: {', '.join(available)}. Use some of those, or lora_target: all."
        )
    return wanted


def lora_config(cfg: "TrainConfig", model: torch.nn.Module):
    """PEFT LoraConfig from the mapping `export --to hf` writes too (hf.lora_kwargs), targets checked on `model`."""
    from peft import LoraConfig

    from ..hf import lora_kwargs

    return LoraConfig(**lora_kwargs(cfg, resolve_targets(cfg, model)))


def apply_lora(cfg: "TrainConfig", model: torch.nn.Module):
    """Wrap the base model with a fresh LoRA adapter (QLoRA: prepare the k-bit model first)."""
    from peft import get_peft_model, prepare_model_for_kbit_training

    if cfg.quantization_bit:
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=cfg.gradient_checkpointing)
    try:
        peft_model = get_peft_model(model, lora_config(cfg, model))
    except ValueError as e:  # PEFT's "Target modules ... not found in the base model"
        raise UserError(f"lora_target: {e}. Available linear layers: {', '.join(linear_module_names(model))}") from None
    if cfg.gradient_checkpointing:
        # With a frozen base model the embeddings produce no grad, so checkpointed blocks would see no
        # input requiring grad and backprop nothing; this hook makes the inputs require grad.
        peft_model.enable_input_require_grads()
    return peft_model


def skip_autocast_round_trip(model: torch.nn.Module, cfg: "TrainConfig") -> int:
    """For a model whose forward runs under autocast (the Trainer with bf16/fp16): switch off PEFT's cast of each
    adapter's input to the adapter's fp32 dtype. Autocast casts it straight back to 16 bit for lora_A's matmul, so
    the cast is a bf16 -> fp32 -> bf16 round trip: exact, and 2 kernels forward + 2 backward per adapted layer
    (~14 % of a LoRA step's kernels on SmolLM2, which a GPU launches one at a time for a small model). Results are
    unchanged (tests/train/test_lora.py). Not with lora_dropout > 0: dropout would then draw its mask on the 16-bit
    input instead of the fp32 one. Do not call it for a forward without autocast (a bf16 base would then meet fp32
    adapter weights). Returns the number of adapted layers changed."""
    from peft.tuners.tuners_utils import BaseTunerLayer

    if cfg.lora_dropout > 0:
        return 0
    n = 0
    for module in model.modules():
        if isinstance(module, BaseTunerLayer):  # PEFT reads getattr(layer, "cast_input_dtype_enabled", True)
            module.cast_input_dtype_enabled = False
            n += 1
    return n


def quantization_config(cfg: "TrainConfig"):
    """BitsAndBytesConfig for QLoRA; a clear error without CUDA or bitsandbytes."""
    if not cfg.quantization_bit:
        return None
    if not torch.cuda.is_available():
        raise UserError(f"quantization_bit: {cfg.quantization_bit} (QLoRA) needs a CUDA GPU and none was found. "
                        "Remove quantization_bit to train LoRA in 16/32 bit on this machine.")
    try:
        import bitsandbytes  # noqa: F401
    except ImportError:
        raise UserError("quantization_bit (QLoRA) needs bitsandbytes: pip install bitsandbytes") from None
    from transformers import BitsAndBytesConfig

    compute = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if cfg.quantization_bit == 4:
        return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                                  bnb_4bit_compute_dtype=compute)
    return BitsAndBytesConfig(load_in_8bit=True)


def create_loraplus_optimizer(model: torch.nn.Module, args: Any, cfg: "TrainConfig") -> torch.optim.Optimizer:
    """LoRA+ param groups (see module docstring) with the optimizer class/kwargs the Trainer would use."""
    from peft.optimizers import create_loraplus_optimizer as peft_loraplus
    from transformers import Trainer

    optim_cls, optim_kwargs = Trainer.get_optimizer_cls_and_kwargs(args, model)
    optim_kwargs = dict(optim_kwargs)
    lr = optim_kwargs.pop("lr", args.learning_rate)
    return peft_loraplus(
        model, optim_cls, lr=lr, loraplus_lr_ratio=cfg.loraplus_lr_ratio,
        loraplus_lr_embedding=cfg.loraplus_lr_embedding, loraplus_weight_decay=args.weight_decay, **optim_kwargs,
    )


def count_params(model: torch.nn.Module) -> tuple[int, int]:
    """(trainable, total) parameter counts."""
    trainable = total = 0
    for p in model.parameters():
        n = p.numel()
        total += n
        if p.requires_grad:
            trainable += n
    return trainable, total
