"""`tiaocan.train(config)`: load config → setup → train → save → cleanup, in that order.

Built on transformers' Trainer and PEFT. tiaocan adds: the output_dir rule, padding-free batching,
LoRA+, loss-driven stopping and a divergence guard (callbacks.py), LLaMA-Factory-format logs, and a
`RunSummary` that is written however the run ends (completed, stopped, pruned by a tuner, or crashed).
"""
from __future__ import annotations

import contextlib
import errno
import gc
import logging
import os
import resource
import time
import warnings
from pathlib import Path
from typing import Any, Iterable

import torch

from ..config import TrainConfig, save_config
from ..console import make_console
from ..cpu import has_native_bf16
from ..errors import TrainingInterrupted, UserError
from . import outdir, setup
from .callbacks import EarlyStopping, LogWriter, LossWatch, Progress, StopState
from ..losscurve import final_level
from .summary import RunSummary, plot_loss

console = make_console()
# transformers' Trainer reads its own deprecated `is_gradient_checkpointing` property; nothing for a user to change.
warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
# Checkpoint rotation's note about file mtimes (some container filesystems): it falls back correctly by itself.
logging.getLogger("transformers.trainer_utils").addFilter(lambda record: "mtime may not be" not in record.getMessage())


def train(config: TrainConfig | dict | str | os.PathLike, *, callbacks: Iterable[Any] = (), resume: bool = False,
          overwrite: bool = False, quiet: bool = False) -> RunSummary:
    """Train one configuration and return its RunSummary (also written to <output_dir>/run_summary.json).

    Extra `callbacks` (transformers.TrainerCallback) go into the Trainer; an exception raised by one
    (e.g. optuna.TrialPruned) propagates after cleanup, with run_summary.json still written.
    """
    # ---- load config
    cfg = setup.resolve_config(config)
    setup.validate(cfg)
    main = setup.is_main_process()
    say = (lambda *a: None) if quiet or not main else console.print
    out = Path(cfg.output_dir)
    plan = outdir.check_output_dir(cfg, resume, overwrite or cfg.overwrite_output_dir)
    if plan.complete is not None:  # --resume on a finished run: nothing to train
        say(f"[green]{out} is complete[/] (stopped: {plan.complete.stop_reason} at step {plan.complete.global_step}/"
            f"{plan.complete.total_steps}); nothing to resume. Raise num_train_epochs or max_steps to train longer.")
        return plan.complete
    checkpoint = plan.checkpoint

    # ---- setup: runtime, tokenizer, model (+ adapter), data, schedule
    setup.setup_runtime(cfg)
    if cfg.bf16 and not torch.cuda.is_available() and not has_native_bf16():
        say("[yellow]bf16: true on a CPU without native bf16 (AVX512-BF16 / AMX): it is emulated and trains ~10x "
            "slower than fp32 here. Set bf16: false for this machine (a plan made here does).[/]")
    from .data import prepare_data

    with _library_progress_bars_off():  # our plan printout below says what they would
        tokenizer, model = _load_model(cfg)
        data = prepare_data(cfg, tokenizer, model)
    sched = setup.schedule(cfg, len(data.train), len(data.eval) if data.eval is not None else 0)
    args = setup.training_arguments(cfg, sched, data.packed, data.group_by_length)
    from .lora import count_params

    trainable, total_params = count_params(model)
    _print_plan(say, cfg, sched, data, trainable, total_params)

    stop = StopState()
    progress = Progress(console) if not quiet else None
    ours = [LossWatch(stop, cfg.learning_rate, cfg.divergence_factor, cfg.stop_loss_band, data.eval is not None),
            LogWriter(out / "trainer_log.jsonl")]
    if cfg.early_stopping_patience and data.eval is not None:
        ours.append(EarlyStopping(stop, cfg.early_stopping_patience))
    if progress:
        ours.append(progress)
    trainer = _make_trainer(cfg, model, tokenizer, args, data, [*ours, *callbacks])

    # ---- train (the previous run is cleared and the config written only now: a setup error changes nothing)
    if main:
        outdir.clear_previous_run(plan)
        out.mkdir(parents=True, exist_ok=True)
        save_config(cfg, out / "tiaocan_config.yaml")
    started = time.time()
    tokens_before = 0
    try:
        tokens_before = trainer.state.num_input_tokens_seen
        trainer.train(resume_from_checkpoint=checkpoint)
        if progress:
            progress.close()
        # ---- save
        if main:
            with _library_progress_bars_off(), outdir.keep_user_readme(out):
                trainer.save_model(str(out))
            trainer.save_state()
            if cfg.merge_adapter:
                _save_merged(trainer.model, tokenizer, out / "merged")
                say(f"merged model written to {out / 'merged'}")
    except BaseException as e:  # noqa: BLE001 — summary + cleanup on every exit, then re-raise
        if progress:
            progress.close()
        reason = ("pruned" if type(e).__name__ == "TrialPruned" else
                  "interrupted" if isinstance(e, KeyboardInterrupt) else "error")
        message = f"{type(e).__name__}: {e}"
        if isinstance(e, OSError) and e.errno == errno.ENOSPC:
            message = (f"disk full while writing to {out}: free space or point output_dir elsewhere "
                       "(lower save_total_limit to keep fewer checkpoints)")
        if main:
            _summary(cfg, trainer, stop, sched, trainable, started, tokens_before, reason, message)
        _cleanup(trainer, model)
        if reason == "error" and isinstance(e, OSError) and e.errno == errno.ENOSPC:
            raise UserError(message) from None
        if reason == "interrupted" and not isinstance(e, TrainingInterrupted):
            raise TrainingInterrupted(_interrupted_message(out, trainer.state.global_step, sched.total_steps),
                                      trainer.state.global_step) from e
        raise

    summary = _summary(cfg, trainer, stop, sched, trainable, started, tokens_before,
                       stop.reason or "completed", stop.message) if main else None
    if main and cfg.plot_loss:
        plot_loss(out / "trainer_log.jsonl", out / "training_loss.png")
    _cleanup(trainer, model)
    if summary is None:  # non-zero DDP ranks: read rank 0's result is not needed; report what we know
        summary = RunSummary(output_dir=str(out), stop_reason=stop.reason or "completed", stop_message=stop.message,
                             global_step=sched.total_steps, total_steps=sched.total_steps,
                             effective_batch=sched.effective_batch)
    _print_result(say, summary)
    return summary


# ---------------------------------------------------------------- setup pieces

@contextlib.contextmanager
def _library_progress_bars_off():
    """Silence datasets' and transformers' tqdm bars (tokenizing, weight loading) and restore them after
    (`tiaocan --verbose` keeps them)."""
    import datasets
    from transformers.utils import logging as hf_logging

    from ..verbosity import is_verbose

    if is_verbose():
        yield
        return

    ds_on, hf_on = datasets.is_progress_bar_enabled(), hf_logging.is_progress_bar_enabled()
    datasets.disable_progress_bars()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if ds_on:
            datasets.enable_progress_bars()
        if hf_on:
            hf_logging.enable_progress_bar()


def _load_model(cfg: TrainConfig):
    from ..models import load_model, load_tokenizer
    from .lora import apply_lora, quantization_config

    tokenizer = load_tokenizer(cfg.model_name_or_path, cfg.trust_remote_code)
    kwargs: dict[str, Any] = {}
    qconf = quantization_config(cfg)  # raises a clear error for QLoRA without CUDA
    if qconf is not None:
        kwargs.update(quantization_config=qconf, device_map={"": int(os.environ.get("LOCAL_RANK", "0"))})
    elif cfg.finetuning_type == "lora" and (cfg.bf16 or cfg.fp16) and (torch.cuda.is_available() or has_native_bf16()):
        # LoRA: the frozen base in 16 bit halves its memory and saves autocast re-casting every weight at every
        # matmul (on CPUs with native bf16 too); the adapter stays fp32 (PEFT upcasts it) for exact updates.
        kwargs["dtype"] = torch.bfloat16 if cfg.bf16 else torch.float16
    model = load_model(cfg.model_name_or_path, cfg.trust_remote_code, **kwargs)
    # No KV cache while training: it is useless here and, with a cache, transformers skips the packed-sequence
    # mask, so flattened examples would attend to each other.
    model.config.use_cache = False
    if cfg.finetuning_type == "lora":
        model = apply_lora(cfg, model)
    return tokenizer, model


def load_for_training(cfg: TrainConfig):
    """(tokenizer, model with its adapter) exactly as train() loads them: `plan --probe` measures gradients on it."""
    return _load_model(cfg)


def _make_trainer(cfg: TrainConfig, model, tokenizer, args, data, callbacks: list):
    from transformers import Trainer

    from .loss import EXTRA_KEYS, TOKENS, LabelPositions, label_only_loss, supports_label_only_logits

    label_only = supports_label_only_logits(model)

    class TiaocanTrainer(Trainer):
        """transformers' Trainer + the LoRA+ optimizer when loraplus_lr_ratio is set + logits only at label positions
        + the input-token count taken from the CPU batch (LabelPositions) instead of a device read per micro-batch."""

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            plain = {k: v for k, v in inputs.items() if k not in EXTRA_KEYS}  # what the model itself takes
            if return_outputs or not model.training or not label_only or self.label_smoother or self.compute_loss_func:
                return super().compute_loss(model, plain, return_outputs, num_items_in_batch)
            loss = label_only_loss(model, inputs, num_items_in_batch)
            if loss is None:  # no label token in this micro-batch: let the model produce its (zero-weight) loss
                return super().compute_loss(model, plain, return_outputs, num_items_in_batch)
            if self.args.average_tokens_across_devices and self.model_accepts_loss_kwargs and num_items_in_batch is not None:
                # as Trainer.compute_loss does: num_items_in_batch counts every device's tokens, DDP averages grads
                scale = self.accelerator.num_processes // self.get_tp_size()
                loss = loss * (scale if self.args.n_gpu <= 1 else self.args.n_gpu)
            return loss

        def _track_num_input_tokens(self, inputs):
            # transformers makes a device tensor of the count and reads it back (.item()) every micro-batch, which
            # waits for the GPU; one process can add the collator's CPU count. Several gather theirs: transformers'.
            n = inputs.get(TOKENS) if hasattr(inputs, "get") else None
            if n is None or self.args.world_size > 1 or self.args.include_num_input_tokens_seen == "no":
                return super()._track_num_input_tokens(inputs)
            self.state.num_input_tokens_seen += int(n)

        def create_optimizer(self, model=None):
            if self.optimizer is None and cfg.loraplus_lr_ratio and cfg.finetuning_type == "lora":
                from .lora import create_loraplus_optimizer

                self.optimizer = create_loraplus_optimizer(self.model, self.args, cfg)
            return super().create_optimizer(model) if model is not None else super().create_optimizer()

    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    trainer = TiaocanTrainer(model=model, args=args, train_dataset=data.train, eval_dataset=data.eval,
                             data_collator=LabelPositions(data.collator, count_all=data.packed),
                             processing_class=tokenizer, callbacks=callbacks)
    for default_printer in (PrinterCallback, ProgressCallback):  # our Progress callback replaces them
        trainer.remove_callback(default_printer)
    acc = trainer.accelerator
    if cfg.finetuning_type == "lora" and getattr(acc, "native_amp", False) and acc.mixed_precision in ("bf16", "fp16"):
        from .lora import skip_autocast_round_trip

        skip_autocast_round_trip(model, cfg)  # the Trainer's forward runs under autocast: see there
    return trainer


def _save_merged(model, tokenizer, path: Path) -> None:
    merged = model.merge_and_unload()
    merged.save_pretrained(path)
    tokenizer.save_pretrained(path)


def _cleanup(trainer, model) -> None:
    """Free the model and optimizer so a tuner can run many trials in one process."""
    if trainer is not None:
        trainer.model = trainer.model_wrapped = trainer.optimizer = trainer.lr_scheduler = None
    del trainer, model
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


# ---------------------------------------------------------------- reporting

def _peak_memory_mb() -> float:
    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _summary(cfg, trainer, stop: StopState, sched, trainable: int, started: float, tokens_before: int,
             reason: str, message: str) -> RunSummary | None:
    state = trainer.state
    wall = time.time() - started
    tokens = int(state.num_input_tokens_seen or 0)
    finite = [x for x in stop.train_losses if x == x and abs(x) != float("inf")]
    summary = RunSummary(
        output_dir=str(cfg.output_dir), stop_reason=reason, stop_message=message,
        final_train_loss=final_level(stop.train_losses), last_train_loss=stop.train_losses[-1] if stop.train_losses else None,
        best_train_loss=min(finite) if finite else None,
        final_eval_loss=stop.eval_losses[-1] if stop.eval_losses else None,
        best_eval_loss=min(stop.eval_losses) if stop.eval_losses else None,
        best_checkpoint=state.best_model_checkpoint,
        global_step=state.global_step, total_steps=sched.total_steps, epochs=round(float(state.epoch or 0), 4),
        effective_batch=sched.effective_batch, steps_per_epoch=sched.steps_per_epoch, warmup_steps=sched.warmup_steps,
        train_examples=sched.train_examples, eval_examples=sched.eval_examples, tokens_seen=tokens,
        tokens_per_second=round((tokens - tokens_before) / wall, 2) if wall > 0 else 0.0,
        trainable_params=trainable, peak_memory_mb=round(_peak_memory_mb(), 1), wall_time_s=round(wall, 2),
    )
    try:
        summary.write()
    except OSError as e:  # a full disk must not hide the original outcome
        console.print(f"[yellow]could not write run_summary.json: {e}[/]")
    return summary


def _interrupted_message(out: Path, step: int, total: int) -> str:
    ckpts = outdir.checkpoints(out)
    if ckpts:
        return (f"interrupted at step {step}/{total}; resume with --resume (continues from {ckpts[-1].name}; "
                "the same command plus --resume)")
    return (f"interrupted at step {step}/{total} before the first checkpoint was saved, so there is nothing to "
            "resume; run again with --overwrite (or set save_steps lower to checkpoint sooner)")


def _print_plan(say, cfg: TrainConfig, sched, data, trainable: int, total: int) -> None:
    n = len(data.train)
    batching = ("packed, padding-free" if data.packed else
                "length-grouped, padded per batch" if data.group_by_length else "one example per micro-batch")
    say(f"[bold]tiaocan train[/] {cfg.model_name_or_path} → {cfg.output_dir}")
    say(f"  examples        {n} train" + (f", {len(data.eval)} eval" if data.eval is not None else "")
        + (f" ({data.n_truncated} truncated, {data.n_dropped} dropped at cutoff_len {cfg.cutoff_len})"
           if data.n_truncated or data.n_dropped else ""))
    say(f"  effective batch {sched.effective_batch} = {cfg.per_device_train_batch_size} micro batch × "
        f"{cfg.gradient_accumulation_steps} accumulation × {sched.devices} device(s)  ({batching})")
    say(f"  tokens / step   ≈ {sched.effective_batch * data.mean_tokens:,.0f} "
        f"({data.mean_tokens:.0f} mean tokens per example)")
    say(f"  steps           {sched.steps_per_epoch} per epoch, {sched.total_steps} total"
        + (f" (max_steps)" if cfg.max_steps > 0 else f" ({cfg.num_train_epochs:g} epochs)")
        + (f", warmup {sched.warmup_steps}" if sched.warmup_steps else ""))
    say(f"  trainable       {trainable:,} of {total:,} parameters ({100 * trainable / max(total, 1):.2f}%)"
        + (f", LoRA r={cfg.lora_rank} alpha={cfg.effective_lora_alpha}" if cfg.finetuning_type == "lora" else ""))
    say(f"  learning rate   {cfg.learning_rate:g} ({cfg.lr_scheduler_type})"
        + (f", LoRA+ B×{cfg.loraplus_lr_ratio:g}" if cfg.loraplus_lr_ratio else ""))


def _print_result(say, s: RunSummary) -> None:
    colour = {"completed": "green", "loss_band": "green", "early_stopping": "green"}.get(s.stop_reason, "red")
    say(f"[bold {colour}]stopped: {s.stop_reason}[/] at step {s.global_step}/{s.total_steps}"
        + (f" — {s.stop_message}" if s.stop_message else ""))
    loss = f"{s.final_train_loss:.4f} (median of the last logged losses)" if s.final_train_loss is not None else "-"
    ev = f", eval loss {s.final_eval_loss:.4f} (best {s.best_eval_loss:.4f})" if s.final_eval_loss is not None else ""
    say(f"  final train loss {loss}{ev}; {s.tokens_seen:,} tokens at {s.tokens_per_second:,.0f} tok/s, "
        f"{s.wall_time_s:.0f} s, peak memory {s.peak_memory_mb:,.0f} MB")
    say(f"  wrote {s.output_dir}/run_summary.json")
