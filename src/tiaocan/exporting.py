"""Export a plan / TrainConfig to LLaMA-Factory (YAML + dataset_info.json), Axolotl (YAML) or Hugging Face
(TrainingArguments JSON + PEFT LoraConfig JSON), each with the key names that tool reads.

LLaMA-Factory keys are TrainConfig's own, so that export starts from the keys the user actually set
(`exclude_unset`): an LLaMA-Factory YAML loaded by tiaocan exports back with every value unchanged.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel

from .config import TrainConfig, load_config
from .errors import UserError

Target = Literal["llamafactory", "axolotl", "hf"]
# TrainConfig keys LLaMA-Factory does not have (its argument parser rejects unknown keys), with the reason.
TIAOCAN_ONLY = {
    "truncation": "tiaocan's over-long example policy (LLaMA-Factory always cuts)",
    "stop_loss_band": "tiaocan's loss-band stop",
    "early_stopping_patience": "tiaocan's eval-loss patience",
    "divergence_factor": "tiaocan's divergence guard",
    "merge_adapter": "tiaocan merges after training; use `llamafactory-cli export`",
    "formatting": "goes into dataset_info.json",
    "gradient_checkpointing": "LLaMA-Factory spells it disable_gradient_checkpointing",
}
# tiaocan's embedded model names → the hub checkpoint the other tools can download.
HUB_IDS = {"smollm2-135m": "HuggingFaceTB/SmolLM2-135M-Instruct"}


class ExportResult(BaseModel):
    target: str
    files: list[str]
    dropped: dict[str, str] = {}
    notes: list[str] = []  # what the export chose without being able to check it (template, ...)


def _model_id(cfg: TrainConfig) -> str:
    return HUB_IDS.get(cfg.model_name_or_path.lower(), cfg.model_name_or_path)


def guess_template(model: str) -> str:
    """The LLaMA-Factory template an architecture usually has: only a tie-break between templates that render the
    same text, and the fallback when the model's tokenizer cannot be loaded here."""
    try:
        from .planning.shapes import load_shape

        s = load_shape(model)
    except UserError:
        return "default"
    if s.model_type == "qwen3":
        return "qwen3"
    if s.model_type.startswith("qwen"):
        return "qwen"
    if s.model_type.startswith("gemma3"):
        return "gemma3"
    if s.model_type.startswith("gemma"):
        return "gemma"
    if s.model_type == "mistral":
        return "mistral"
    if s.model_type == "llama" and s.vocab_size >= 128000:
        return "llama3"
    return "chatml"


def choose_template(model: str, notes: list[str]) -> tuple[str | None, str | None]:
    """(LLaMA-Factory template, default_system override or None), chosen by rendering the model's own chat
    template (lf_templates); what could not be checked is said in `notes`."""
    from . import lf_templates
    from .models import load_tokenizer

    hint = guess_template(model)
    try:
        tok = load_tokenizer(model)
    except Exception as e:  # noqa: BLE001 — offline hub id, no chat template, ...: fall back to the architecture
        notes.append(f"template: {hint} guessed from the architecture, not checked by rendering (cannot load the "
                     f"tokenizer of {model}: {str(e).splitlines()[0] if str(e) else type(e).__name__})")
        return hint, None
    m = lf_templates.choose(tok, hint)
    if m.note:
        notes.append(f"template: {m.note}" if m.name is None else f"template: {m.name} — {m.note}")
    return m.name, m.default_system


def detect_format(path: Path) -> str:
    """'openai' (messages/role/content), 'sharegpt' (conversations/from/value) or 'alpaca' from the first record."""
    text = path.read_text(encoding="utf-8", errors="replace").lstrip()
    try:
        first = json.loads(text.splitlines()[0]) if path.suffix == ".jsonl" else json.JSONDecoder().raw_decode(
            text[1:].lstrip() if text.startswith("[") else text)[0]
    except (json.JSONDecodeError, IndexError):
        raise UserError(f"{path}: cannot read the first record to detect its format; set `formatting` in the config") from None
    if "messages" in first:
        return "openai"
    if "conversations" in first:
        return "sharegpt"
    if "instruction" in first:
        return "alpaca"
    raise UserError(f"{path}: unknown record layout (keys {sorted(first)}); set `formatting` in the config")


def file_columns(path: Path) -> set[str]:
    """The columns a data file really has (the union over its records): dataset_info.json may map only these, or
    LLaMA-Factory's converter dies with KeyError on the first record."""
    if path.suffix == ".csv":
        import csv

        with path.open(encoding="utf-8", newline="") as f:
            return set(next(csv.reader(f), []))
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return set(pq.read_schema(path).names)
    from .textio import read_text

    text = read_text(path)
    if path.suffix == ".json" and text.lstrip().startswith("["):
        records = json.loads(text)
    else:
        records = [json.loads(line) for line in text.splitlines() if line.strip()]
    return {k for r in records if isinstance(r, dict) for k in r}


def _dataset_info(cfg: TrainConfig, out: Path) -> tuple[dict[str, Any], str | None]:
    """A dataset_info.json entry for a data file; None when `dataset` already names LLaMA-Factory datasets."""
    if not cfg.dataset:
        return {}, None
    p = Path(cfg.dataset)
    if not p.is_file():
        return {}, None
    fmt = cfg.formatting if cfg.formatting != "auto" else detect_format(p)
    name = p.stem.replace(" ", "_")
    have = file_columns(p)
    if fmt == "alpaca":
        wanted = {"prompt": "instruction", "query": "input", "response": "output", "system": "system",
                  "history": "history"}
        entry = {"file_name": str(p.resolve()), "columns": {k: c for k, c in wanted.items() if c in have}}
    elif fmt == "sharegpt":
        entry = {"file_name": str(p.resolve()), "formatting": "sharegpt", "columns": {"messages": "conversations"}}
    else:
        entry = {"file_name": str(p.resolve()), "formatting": "sharegpt", "columns": {"messages": "messages"},
                 "tags": {"role_tag": "role", "content_tag": "content", "user_tag": "user",
                          "assistant_tag": "assistant", "system_tag": "system"}}
    if fmt != "alpaca" and "system" in have:  # a system column beside the turns, which tiaocan reads too
        entry["columns"]["system"] = "system"
    return {name: entry}, name


def to_llamafactory(cfg: TrainConfig, out: Path | None = None, notes: list[str] | None = None
                    ) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    """(LLaMA-Factory YAML dict, dataset_info.json dict, dropped keys with reasons); what the export could not
    check is appended to `notes`."""
    notes = [] if notes is None else notes
    d = cfg.model_dump(exclude_unset=True)
    dropped = {k: TIAOCAN_ONLY[k] for k in d if k in TIAOCAN_ONLY}
    lf = {k: v for k, v in d.items() if k not in TIAOCAN_ONLY}
    if "stop_loss_band" in lf:
        lf["stop_loss_band"] = list(lf["stop_loss_band"])
    if "gradient_checkpointing" in cfg.model_fields_set:
        dropped.pop("gradient_checkpointing", None)  # exported under LLaMA-Factory's own name
        lf.setdefault("disable_gradient_checkpointing", not cfg.gradient_checkpointing)
    if cfg.packing:  # tiaocan packs without cross-attention: LLaMA-Factory's neat_packing (which needs packing too)
        lf["neat_packing"] = True
    lf.setdefault("output_dir", cfg.output_dir)  # LLaMA-Factory (transformers 4.x) requires one
    lf["model_name_or_path"] = _model_id(cfg)
    lf.setdefault("stage", "sft")
    lf.setdefault("do_train", True)
    lf.setdefault("finetuning_type", cfg.finetuning_type)
    if not cfg.template:
        template, default_system = choose_template(cfg.model_name_or_path, notes)
        if template:
            lf["template"] = template
        if default_system is not None:
            lf["default_system"] = default_system
    info: dict[str, Any] = {}
    if out is not None:
        info, name = _dataset_info(cfg, out)
        if name:
            lf["dataset"], lf["dataset_dir"] = name, str(out)
    return lf, info, dropped


def to_axolotl(cfg: TrainConfig) -> dict[str, Any]:
    ds: dict[str, Any] = {"path": cfg.dataset}
    suffix = Path(cfg.dataset or "").suffix.lstrip(".")
    if suffix in ("json", "jsonl", "csv", "parquet"):  # a local file: Axolotl needs its loader type
        ds["ds_type"] = "json" if suffix == "jsonl" else suffix
    fmt = cfg.formatting
    if fmt == "auto" and cfg.dataset and Path(cfg.dataset).is_file():
        fmt = detect_format(Path(cfg.dataset))
    if fmt == "alpaca":
        ds["type"] = "alpaca"
    else:
        sharegpt = fmt == "sharegpt"
        ds.update(type="chat_template", field_messages="conversations" if sharegpt else "messages",
                  message_property_mappings={"role": "from" if sharegpt else "role",
                                             "content": "value" if sharegpt else "content"})
    a: dict[str, Any] = {
        "base_model": _model_id(cfg), "datasets": [ds], "chat_template": "tokenizer_default",
        "sequence_len": cfg.cutoff_len, "sample_packing": cfg.packing, "train_on_inputs": cfg.train_on_prompt,
        "val_set_size": cfg.val_size, "learning_rate": cfg.learning_rate, "num_epochs": cfg.num_train_epochs,
        "micro_batch_size": cfg.per_device_train_batch_size, "gradient_accumulation_steps": cfg.gradient_accumulation_steps,
        "lr_scheduler": cfg.lr_scheduler_type, "warmup_ratio": cfg.warmup_ratio, "optimizer": cfg.optim,
        "weight_decay": cfg.weight_decay, "max_grad_norm": cfg.max_grad_norm, "bf16": cfg.bf16, "fp16": cfg.fp16,
        "gradient_checkpointing": cfg.gradient_checkpointing, "output_dir": cfg.output_dir, "seed": cfg.seed,
        "logging_steps": cfg.logging_steps,
    }
    if cfg.warmup_steps:
        a["warmup_steps"] = cfg.warmup_steps
    if cfg.max_steps > 0:
        a["max_steps"] = cfg.max_steps
    for src, dst in (("eval_steps", "eval_steps"), ("save_steps", "save_steps"), ("save_total_limit", "save_total_limit"),
                     ("early_stopping_patience", "early_stopping_patience")):
        if getattr(cfg, src) is not None:
            a[dst] = getattr(cfg, src)
    if cfg.finetuning_type == "lora":
        a["adapter"] = "qlora" if cfg.quantization_bit == 4 else "lora"
        if cfg.quantization_bit == 4:
            a["load_in_4bit"] = True
        elif cfg.quantization_bit == 8:
            a["load_in_8bit"] = True
        a.update(lora_r=cfg.lora_rank, lora_alpha=cfg.effective_lora_alpha, lora_dropout=cfg.lora_dropout)
        if cfg.lora_target.strip().lower() in ("all", "all-linear"):
            a["lora_target_linear"] = True
        else:
            a["lora_target_modules"] = [t.strip() for t in cfg.lora_target.split(",")]
        if cfg.loraplus_lr_ratio:
            a["loraplus_lr_ratio"] = cfg.loraplus_lr_ratio
            a["loraplus_lr_embedding"] = cfg.loraplus_lr_embedding
        if cfg.use_rslora:
            a["peft_use_rslora"] = True
        if cfg.use_dora:
            a["peft_use_dora"] = True
    return a


def to_hf(cfg: TrainConfig) -> tuple[dict[str, Any], dict[str, Any] | None, dict[str, str]]:
    """(TrainingArguments kwargs, PEFT LoraConfig kwargs or None, left-out keys with the reason): the mapping train
    uses (hf.py) without this machine's runtime keys; keys the installed transformers lacks are left out, by name."""
    import transformers

    from . import hf

    args = hf.training_kwargs(cfg)
    dropped = {k: f"not a TrainingArguments field in the installed transformers {transformers.__version__}"
               for k in hf.unknown_keys(args)}
    args = {k: v for k, v in args.items() if k not in dropped}
    return args, (hf.lora_kwargs(cfg) if cfg.finetuning_type == "lora" else None), dropped


def _merge_info(path: Path, info: dict[str, Any]) -> dict[str, Any]:
    """An existing dataset_info.json keeps its other datasets: ours is added, theirs are never dropped."""
    if not path.exists():
        return info
    from .textio import read_text

    try:
        existing = json.loads(read_text(path))
    except ValueError:
        raise UserError(f"{path} exists and is not valid JSON; export into another folder (-o) or fix it") from None
    if not isinstance(existing, dict):
        raise UserError(f"{path} exists and is not a dataset_info.json mapping; export into another folder (-o)")
    return {**existing, **info}


def export_config(config: TrainConfig | str | Path, to: str, out_dir: str | Path = ".") -> ExportResult:
    """Write the files for `to` into out_dir and return their paths."""
    if to not in ("llamafactory", "axolotl", "hf"):
        raise UserError(f"--to {to}: choose llamafactory, axolotl or hf")
    cfg = config if isinstance(config, TrainConfig) else load_config(config)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    dump = lambda d: yaml.safe_dump(d, sort_keys=False, allow_unicode=True)  # noqa: E731
    if to == "llamafactory":
        notes: list[str] = []
        lf, info, dropped = to_llamafactory(cfg, out, notes)
        head = "".join(f"# dropped {k}: {why}\n" for k, why in dropped.items())
        head += "".join(f"# note: {n}\n" for n in notes)
        files = [out / "llamafactory_sft.yaml"]
        files[0].write_text(head + dump(lf), encoding="utf-8")
        if info:
            files.append(out / "dataset_info.json")
            info = _merge_info(files[1], info)
            files[1].write_text(json.dumps(info, indent=2, ensure_ascii=False), encoding="utf-8")
        return ExportResult(target=to, files=[str(f) for f in files], dropped=dropped, notes=notes)
    if to == "axolotl":
        f = out / "axolotl.yaml"
        f.write_text(dump(to_axolotl(cfg)), encoding="utf-8")
        return ExportResult(target=to, files=[str(f)])
    if to == "hf":
        args, lora, dropped = to_hf(cfg)
        files = [out / "training_args.json"]
        files[0].write_text(json.dumps(args, indent=2), encoding="utf-8")
        if lora:
            files.append(out / "lora_config.json")
            files[1].write_text(json.dumps(lora, indent=2), encoding="utf-8")
        return ExportResult(target=to, files=[str(f) for f in files], dropped=dropped)
    raise UserError(f"--to {to}: choose llamafactory, axolotl or hf")
