"""plan(): model + data + GPU → a TrainConfig with a reason for every value, memory, steps and time."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from .. import derive
from ..config import TrainConfig, build_config, parse_overrides
from ..errors import UserError
from ..explanation import reason, resolve_lang
from .facts import DataFacts
from .hardware import GPU, detect_gpu, parse_gpu
from .result import Plan, PlanSteps
from .rules import Ctx, all_rules
from .shapes import ModelShape, load_shape

# --set keys that are not TrainConfig fields but steer the plan.
PSEUDO_KEYS = {"effective_batch": "target effective batch (micro x accumulation x devices)",
               "loraplus": "turn LoRA+ on with ratio 16", "flash_attn": "attention kernel (fa2 = FlashAttention-2)"}
MFU = {"full": 0.35, "lora": 0.35, "qlora": 0.2}  # typical HF-Trainer model-FLOPs utilisation on one GPU


FALLBACK_TOKENIZER = "smollm2-135m"


def _facts(data: Any, model: str, dataset: str | None, notes: list[str], lang: str,
           **inspect_kw: Any) -> tuple[DataFacts, str | None]:
    if isinstance(data, DataFacts):
        return data, dataset
    if data is None:
        raise UserError("--data is required: the plan reads example counts and lengths from the data")
    if isinstance(data, (str, Path)):
        from ..data.inspect import inspect_data

        tok_model = model
        if _builtin_not_cached(model):
            # A built-in hub id whose tokenizer is not downloaded: plan from the built-in shapes and count tokens
            # with the embedded tokenizer (close for English text), instead of waiting on the network.
            tok_model = FALLBACK_TOKENIZER
            notes.append(reason("common", "tokenizer_fallback", lang, model=model, fallback=FALLBACK_TOKENIZER))
        try:
            report = inspect_data(str(data), model=tok_model, plot=None, **inspect_kw)
        except OSError as e:
            raise UserError(f"--data {data}: {e}") from None
        return DataFacts.from_report(report), dataset or str(data)
    return DataFacts.from_report(data), dataset


def _builtin_not_cached(model: str) -> bool:
    from .archs import builtin_key

    if Path(model).expanduser().exists() or builtin_key(model) is None or model.lower() in ("smollm2-135m", "smollm2"):
        return False
    try:
        from huggingface_hub import try_to_load_from_cache

        return not isinstance(try_to_load_from_cache(model, "tokenizer_config.json"), str)
    except Exception:  # malformed repo id etc.
        return True


def _number(v: Any) -> Any:
    """YAML reads '1e-4' as text (YAML 1.1 wants '1.0e-4'); the rules need the number."""
    if isinstance(v, str):
        for cast in (int, float):
            try:
                return cast(v)
            except ValueError:
                pass
    return v


def _check_keys(user: dict[str, Any]) -> None:
    bad = [k for k in user if k not in TrainConfig.model_fields and k not in PSEUDO_KEYS]
    if bad:
        raise UserError(f"--set {bad[0]}=...: unknown key. Use a TrainConfig / LLaMA-Factory key "
                        f"(see `tiaocan explain`) or one of: {', '.join(PSEUDO_KEYS)}")
    for k in ("model_name_or_path", "dataset"):
        if k in user:
            raise UserError(f"--set {k}: give it with --{'model' if k.startswith('model') else 'data'} instead")


def estimate_seconds(shape: ModelShape, method: str, gc: bool, tokens: int, gpu: GPU | None, seq: int):
    if gpu is None or not gpu.bf16_tflops:
        return None, None
    n = shape.total_params()
    passes = (6 if method == "full" else 4) + (2 if gc else 0)  # fwd 2N, input grads 2N, weight grads 2N (full)
    attn = passes * shape.num_layers * seq * shape.q_dim  # causal QK^T and PV: ~2 x L x seq x q_dim per pass
    flops = tokens * (passes * n + attn)
    speed = gpu.bf16_tflops * 1e12 * MFU[method] * gpu.count
    return flops / speed, f"{passes}N FLOPs/token at {MFU[method]:.0%} of {gpu.bf16_tflops:g} TFLOPs x {gpu.count}"


def make_plan(model: str, data: Any, gpu: str | GPU | None = None, method: str = "lora",
              overrides: list[str] | dict[str, Any] | None = None, lang: str | None = None,
              dataset: str | None = None, loraplus: bool = False, probe: float | bool | None = None,
              **inspect_kw: Any) -> Plan:
    """Plan a run. `data`: a path/dataset name (inspected with the model's tokenizer), a DataReport or DataFacts;
    `gpu`: 'H100-80GB', '24GB', a GPU or None (detect); `overrides`: ['key=value', ...] or a dict.
    `probe`: measure the learning rate and the gradient noise scale on this data and machine with that share of
    the full run's training tokens (True = 0.15, at most 0.3; see tiaocan.probing.probe_plan)."""

    if method not in ("lora", "qlora", "full"):
        raise UserError(f"--method {method}: choose lora, qlora or full")
    if probe is not None and probe is not False:
        from ..probing import parse_budget

        probe = parse_budget(probe)  # a bad budget fails before the data is read
    user = dict(overrides) if isinstance(overrides, dict) else parse_overrides(overrides)
    user = {k: _number(v) for k, v in user.items()}
    _check_keys(user)
    if loraplus:
        user["loraplus"] = True
    shape = load_shape(model)
    notes: list[str] = []
    lang = resolve_lang(lang)
    facts, dataset = _facts(data, model, dataset, notes, lang, **inspect_kw)
    gpu_obj = parse_gpu(gpu) if isinstance(gpu, str) else (gpu or detect_gpu())
    ctx = Ctx(shape=shape, data=facts, gpu=gpu_obj, method=method, user=user, lang=lang)
    recs = []
    for _name, rule in all_rules():
        recs.extend(rule(ctx))
    fit = ctx.extra["fit"]
    config: dict[str, Any] = {"model_name_or_path": model}
    if dataset:
        config["dataset"] = dataset
    config.update({r.key: r.value for r in recs if r.key in TrainConfig.model_fields})
    config.update({k: v for k, v in user.items() if k in TrainConfig.model_fields})  # other --set keys pass through
    if config.get("fp16"):
        config["bf16"] = False
    cfg = build_config(config, source="plan (--set)")
    # The run's own arithmetic (derive.py) on the config the plan writes, so what the plan prints is what
    # `tiaocan train` on that YAML reports: split, steps per epoch, total steps, warmup.
    # (a separate eval_dataset holds nothing out; its size is unknown here, so it counts as one example)
    n_eval = 0 if cfg.eval_dataset else derive.held_out(facts.num_examples, cfg.val_size)
    sched = derive.schedule(cfg, max(1, facts.num_examples - n_eval), n_eval or int(bool(cfg.eval_dataset)), ctx.devices)
    tok_epoch, total_tokens = derive.tokens(sched, facts.tokens_up_to(cfg.cutoff_len), cfg.num_train_epochs,
                                            cfg.max_steps)
    secs, basis = estimate_seconds(shape, method, fit.gradient_checkpointing, total_tokens, gpu_obj, cfg.cutoff_len)
    steps = PlanSteps(effective_batch=sched.effective_batch, steps_per_epoch=sched.steps_per_epoch,
                      total_steps=sched.total_steps, warmup_steps=sched.warmup_steps,
                      train_examples=sched.train_examples, eval_examples=n_eval, tokens_per_epoch=tok_epoch,
                      total_tokens=total_tokens, est_seconds=secs, est_basis=basis)
    notes += ctx.notes
    if gpu_obj is None:
        notes.append(ctx.text("common", "no_gpu"))
    plan = Plan(model=model, model_source=shape.source, method=method, gpu=gpu_obj, data=facts,
                recommendations=recs, config=cfg.to_yaml_dict(include_defaults=False), memory=fit.estimate,
                memory_budget_bytes=gpu_obj.memory_bytes if gpu_obj else None, steps=steps, notes=notes,
                lang=ctx.lang, overrides=user)
    if probe:
        from ..probing import probe_plan

        plan = probe_plan(plan, probe, dataset_dir=inspect_kw.get("dataset_dir"),
                          formatting=inspect_kw.get("formatting"))
    return plan
