"""Turn `RUN_OR_MODEL` into a model + tokenizer: a `tiaocan train` run dir (PEFT adapter or full model),
a LLaMA-Factory / PEFT adapter dir, a Hugging Face model dir, a hub id or the embedded model name."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from ..errors import UserError

RUN_CONFIG = "tiaocan_config.yaml"
ADAPTER_CONFIG = "adapter_config.json"


@dataclass
class Loaded:
    model: Any
    tokenizer: Any
    label: str                      # what the user named
    base_name: Optional[str]        # the base model (None: unknown, e.g. a bare HF model)
    is_adapter: bool
    config: Any = None              # TrainConfig of the run, when there is one
    run_dir: Optional[Path] = None


def _read_run_config(path: Path):
    from ..config import load_config

    return load_config(path / RUN_CONFIG) if (path / RUN_CONFIG).is_file() else None


def _adapter_base(path: Path) -> Optional[str]:
    try:
        return json.loads((path / ADAPTER_CONFIG).read_text(encoding="utf-8")).get("base_model_name_or_path")
    except (OSError, ValueError):
        return None


def _no_model_error(path: Path) -> UserError:
    ckpts = sorted((p for p in path.glob("checkpoint-*") if (p / ADAPTER_CONFIG).is_file() or (p / "config.json").is_file()),
                   key=lambda p: int(p.name.split("-")[-1]) if p.name.split("-")[-1].isdigit() else -1)
    hint = (f" It has checkpoints; evaluate one of them, e.g. `tiaocan eval {ckpts[-1]}`." if ckpts else
            " Did training finish? `tiaocan train` writes adapter_model.safetensors + adapter_config.json at the end.")
    return UserError(f"{path} has no adapter ({ADAPTER_CONFIG}) and no model (config.json).{hint}")


def load_target(target: str, base_model: Optional[str] = None, trust_remote_code: bool = False) -> Loaded:
    """Load what `tiaocan eval` evaluates. `base_model` overrides the base recorded in the run/adapter."""
    from ..models import load_model, load_tokenizer

    path = Path(target).expanduser()
    if not path.is_dir():  # a model name (hub id / embedded): no run around it
        return Loaded(load_model(target, trust_remote_code), load_tokenizer(target, trust_remote_code), target,
                      base_model, False)
    cfg = _read_run_config(path)
    if (path / ADAPTER_CONFIG).is_file():
        recorded = _adapter_base(path)
        base = base_model or (cfg.model_name_or_path if cfg else None) or recorded
        if not base:
            raise UserError(f"{path / ADAPTER_CONFIG} names no base model and there is no {RUN_CONFIG}: "
                            "pass the base with --model NAME_OR_DIR")
        tokenizer = load_tokenizer(base, trust_remote_code)
        model = _attach_adapter(load_model(base, trust_remote_code), path, base, recorded)
        return Loaded(model, tokenizer, target, base, True, cfg, path)
    if (path / "config.json").is_file():  # a full fine-tune run, or any HF model folder
        base = base_model or (cfg.model_name_or_path if cfg else None)
        tok_source = str(path) if (path / "tokenizer_config.json").is_file() else (base or str(path))
        return Loaded(load_model(str(path), trust_remote_code), load_tokenizer(tok_source, trust_remote_code),
                      target, base, False, cfg, path)
    raise _no_model_error(path)


def _attach_adapter(model, adapter_dir: Path, base: str, recorded: Optional[str]):
    from peft import PeftModel

    try:
        return PeftModel.from_pretrained(model, str(adapter_dir), is_trainable=False)
    except (RuntimeError, ValueError, KeyError) as e:
        lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()] or [type(e).__name__]
        # torch lists every bad tensor; the first "size mismatch" line is the telling one.
        first = next((ln for ln in lines if "size mismatch" in ln or "not found" in ln), lines[0])[:300]
        said = f" (the adapter was trained on '{recorded}')" if recorded and recorded != base else ""
        raise UserError(f"the adapter in {adapter_dir} does not fit the base model '{base}'{said}: {first}. "
                        "Evaluate it with the base model it was trained on: --model NAME_OR_DIR") from None


def load_base_for_comparison(loaded: Loaded, trust_remote_code: bool = False):
    """The base model for --base, or None when the adapter can simply be switched off (no second copy)."""
    from ..models import load_model

    if loaded.is_adapter:
        return None
    if not loaded.base_name:
        raise UserError(f"--base: {loaded.label} is a full model with no recorded base model "
                        f"(no {RUN_CONFIG}); pass the base with --model NAME_OR_DIR")
    return load_model(loaded.base_name, trust_remote_code)
