"""Read tiaocan, LLaMA-Factory and Hugging Face Trainer logs into one `Curves`.

Formats (all written line by line or at checkpoints, so a run may still be going or may have died):
- `trainer_log.jsonl` (LLaMA-Factory's LogCallback, and tiaocan's own run dirs which add grad_norm): one JSON
  object a line with current_steps, total_steps, loss | eval_loss, lr, epoch, percentage, ...
- `trainer_state.json` (HF Trainer): {"log_history": [{"loss", "grad_norm", "learning_rate", "epoch", "step"},
  {"eval_loss", "step", ...}, {"train_loss", "train_runtime", ...}], "max_steps", "global_step", ...}; while a
  run goes it only exists inside `checkpoint-N/`.
Bad input never crashes: bad lines are skipped with a note naming file and line; only when nothing usable is
left does a UserError say which files were tried and what was wrong with each.
"""
from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import yaml

from ..errors import UserError
from .types import Curves

LOG_FILE = "trainer_log.jsonl"
STATE_FILE = "trainer_state.json"
CONFIG_FILES = ("tiaocan_config.yaml", "training_args.yaml")  # ours first, then LLaMA-Factory's copy
SUMMARY_FILES = ("run_summary.json", "all_results.json", "train_results.json")


MAX_STEP = 10**9  # a larger step number is a corrupt record, not a run (and overflows the plots)


class BadRecord(ValueError):
    """A log record whose values cannot be what a trainer wrote; it is skipped with a note, never read as NaN."""


def _num(v: Any, key: str = "", strict: bool = False) -> float:
    """Log values may be numbers, null, or strings like 'NaN'/'inf' (json.dumps writes NaN bare). With `strict`
    (the loss itself), a list, an object or other text is a broken record: a NaN there would read as divergence."""
    if v is None or isinstance(v, bool):
        return math.nan
    try:
        return float(v)
    except (TypeError, ValueError, OverflowError):
        if strict:
            raise BadRecord(f"{key} is {json.dumps(v)[:40]}, not a number") from None
        return math.nan


def _step(v: Any) -> int | None:
    if v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError, OverflowError):
        raise BadRecord(f"step is {json.dumps(v)[:40]}, not a number") from None
    if not math.isfinite(f) or f < 0 or f > MAX_STEP or f != int(f):
        raise BadRecord(f"step {json.dumps(v)[:40]} is not a step number")
    return int(f)


def _point(rec: dict[str, Any], step_key: str) -> dict[str, Any] | None:
    """Normalise one log record into {kind, step, ...}; None for progress-only lines; BadRecord if corrupt."""
    step = rec.get(step_key)
    if step is None:
        step = rec.get("step", rec.get("current_steps"))
    if step is None:
        return None
    step = _step(step)
    if "loss" in rec:
        return {"kind": "train", "step": step, "loss": _num(rec["loss"], "loss", strict=True),
                "lr": _num(rec.get("lr", rec.get("learning_rate"))), "grad_norm": _num(rec.get("grad_norm")),
                "epoch": _num(rec.get("epoch")), "loss_scale": _num(rec.get("loss_scale", rec.get("scale")))}
    if "eval_loss" in rec:
        return {"kind": "eval", "step": step, "loss": _num(rec["eval_loss"], "eval_loss", strict=True),
                "epoch": _num(rec.get("epoch"))}
    return None


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError as e:
        raise UserError(f"{path}: cannot read ({e})") from None


def read_jsonl(path: Path, notes: list[str]) -> tuple[list[dict], dict[str, Any]]:
    """Parse trainer_log.jsonl. Returns (points, progress) where progress has current/total steps seen."""
    text = _read_text(path)
    lines = text.splitlines()
    points: list[dict] = []
    progress: dict[str, Any] = {}
    bad: list[int] = []
    for i, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            bad.append(i)
            continue
        if not isinstance(rec, dict):
            bad.append(i)
            continue
        if "total_steps" in rec:
            progress["total_steps"] = rec.get("total_steps")
        if "current_steps" in rec:
            progress["current_steps"] = rec.get("current_steps")
        if "percentage" in rec:
            progress["percentage"] = rec.get("percentage")
        try:
            p = _point(rec, "current_steps")
        except BadRecord as e:
            notes.append(f"{path}: skipped line {i}: {e}")
            continue
        if p is not None:
            points.append(p)
    if bad:
        last = len(lines)
        where = ", ".join(str(b) for b in bad[:5]) + (" ..." if len(bad) > 5 else "")
        why = "the last line is cut off (the run is probably still writing)" if bad == [last] else "not valid JSON"
        notes.append(f"{path}: skipped line(s) {where} of {last}: {why}")
    if not points:
        if not text.strip():
            raise UserError(f"{path}: the file is empty — the run has not logged a step yet "
                            "(wait for the first logging step, or check logging_steps)")
        first = bad[0] if bad else 1
        raise UserError(f"{path}: no loss or eval_loss records found (first unreadable line: {first}); "
                        "expected LLaMA-Factory's trainer_log.jsonl: one JSON object a line with current_steps and loss")
    return points, progress


def _salvage_log_history(text: str) -> list[dict]:
    """A trainer_state.json cut off mid-write: decode the complete log_history entries before the cut."""
    m = re.search(r'"log_history"\s*:\s*\[', text)
    if not m:
        return []
    dec, pos, out = json.JSONDecoder(), m.end(), []
    while True:
        while pos < len(text) and text[pos] in " \t\r\n,":
            pos += 1
        if pos >= len(text) or text[pos] != "{":
            break
        try:
            obj, pos = dec.raw_decode(text, pos)
        except json.JSONDecodeError:
            break
        out.append(obj)
    return out


def read_state(path: Path, notes: list[str]) -> tuple[list[dict], dict[str, Any]]:
    """Parse HF trainer_state.json (salvaging a truncated file). Returns (points, state without log_history)."""
    text = _read_text(path)
    if not text.strip():
        raise UserError(f"{path}: the file is empty")
    try:
        state = json.loads(text)
    except json.JSONDecodeError as e:
        history = _salvage_log_history(text)
        if not history:
            raise UserError(f"{path}: not valid JSON (line {e.lineno}, column {e.colno}: {e.msg}) and no complete "
                            "log_history entry could be recovered; expected HF Trainer's trainer_state.json") from None
        notes.append(f"{path}: broken JSON at line {e.lineno}; recovered the {len(history)} complete log_history entries before it")
        state = {"log_history": history}
    if not isinstance(state, dict) or not isinstance(state.get("log_history"), list):
        raise UserError(f"{path}: no 'log_history' list; expected HF Trainer's trainer_state.json")
    points = []
    for k, rec in enumerate(state["log_history"]):
        try:
            p = _point(rec, "step") if isinstance(rec, dict) else None
        except BadRecord as e:
            notes.append(f"{path}: skipped log_history[{k}]: {e}")
            continue
        if p is not None:
            points.append(p)
    if not points:
        raise UserError(f"{path}: log_history has no loss or eval_loss entries yet (logging_steps may exceed the steps run)")
    meta = {k: v for k, v in state.items() if k != "log_history"}
    # The end-of-training record carries train_loss and no loss (transformers 5 also puts train_runtime on
    # every step record, so that key alone does not mean the run ended).
    meta["_train_end"] = any(isinstance(r, dict) and "train_loss" in r and "loss" not in r for r in state["log_history"])
    return points, meta


def _latest_checkpoint_state(run: Path) -> Path | None:
    ckpts = []
    for d in run.glob("checkpoint-*"):
        m = re.fullmatch(r"checkpoint-(\d+)", d.name)
        if m and (d / STATE_FILE).is_file():
            ckpts.append((int(m.group(1)), d / STATE_FILE))
    return max(ckpts)[1] if ckpts else None


def _read_yaml_or_json(path: Path, notes: list[str]) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError) as e:
        notes.append(f"{path}: unreadable, ignored ({str(e).splitlines()[0]})")
        return {}
    if not isinstance(data, dict):
        notes.append(f"{path}: not a mapping, ignored")
        return {}
    return data


def _merge(points_a: list[dict], points_b: list[dict]) -> list[dict]:
    """Merge two point lists (trainer_log.jsonl first): fill fields the first lacks (LF logs carry no grad_norm)."""
    by_key = {(p["kind"], p["step"]): dict(p) for p in points_a}
    for p in points_b:
        key = (p["kind"], p["step"])
        if key not in by_key:
            by_key[key] = dict(p)
            continue
        for k, v in p.items():
            if isinstance(v, float) and math.isnan(by_key[key].get(k, math.nan)) and not math.isnan(v):
                by_key[key][k] = v
    return sorted(by_key.values(), key=lambda p: (p["step"], p["kind"]))


def read_run(path: str | Path) -> Curves:
    """Read one run: a run directory (tiaocan / LLaMA-Factory / HF output_dir) or a single log file."""
    p = Path(path)
    if not p.exists():
        raise UserError(f"{p}: no such file or directory")
    notes: list[str] = []
    run = p if p.is_dir() else p.parent
    log = p if p.is_file() and p.name.endswith(".jsonl") else (run / LOG_FILE if p.is_dir() else None)
    state = p if p.is_file() and p.suffix == ".json" else (run / STATE_FILE if p.is_dir() else None)
    if p.is_dir() and not (state and state.is_file()):
        state = _latest_checkpoint_state(run)
        if state is not None:
            notes.append(f"no {STATE_FILE} at the top of {run}: read the newest checkpoint's ({state.parent.name})")
    if p.is_file() and not (p.name.endswith(".jsonl") or p.suffix == ".json"):
        raise UserError(f"{p}: not a log file; give a run directory, a trainer_log.jsonl or a trainer_state.json")

    errors: list[str] = []
    points: list[dict] = []
    files: list[str] = []
    progress: dict[str, Any] = {}
    meta: dict[str, Any] = {}
    if log is not None and log.is_file():
        try:
            points, progress = read_jsonl(log, notes)
            files.append(str(log))
        except UserError as e:
            errors.append(str(e))
    if state is not None and state.is_file():
        try:
            spoints, meta = read_state(state, notes)
            points = _merge(points, spoints) if points else spoints
            files.append(str(state))
        except UserError as e:
            errors.append(str(e))
    if not points:
        if errors:
            raise UserError("no usable training log:\n  " + "\n  ".join(errors))
        raise UserError(f"{run}: no {LOG_FILE} or {STATE_FILE} (also none in checkpoint-*/): is this the output_dir "
                        "of a tiaocan, LLaMA-Factory or Hugging Face Trainer run?")
    notes.extend(f"ignored: {e}" for e in errors)

    config, config_file = {}, None
    for name in CONFIG_FILES:
        if (run / name).is_file():
            config, config_file = _read_yaml_or_json(run / name, notes), str(run / name)
            break
    summary: dict[str, Any] = {}
    for name in SUMMARY_FILES:
        if (run / name).is_file():
            summary.update(_read_yaml_or_json(run / name, notes))
    # HF's state carries the batch and epochs even when no config file is beside it.
    for src, dst in (("train_batch_size", "per_device_train_batch_size"), ("num_train_epochs", "num_train_epochs"),
                     ("logging_steps", "logging_steps")):
        if meta.get(src) is not None and dst not in config:
            config[dst] = meta[src]
    _drop_non_numeric(config, config_file or str(state), notes)

    source = "tiaocan" if (run / "tiaocan_config.yaml").is_file() or (run / "run_summary.json").is_file() else (
        "llamafactory" if log is not None and log.is_file() and files and files[0] == str(log) else "hf")
    total = progress.get("total_steps") or meta.get("max_steps") or summary.get("total_steps")
    total = int(total) if isinstance(total, (int, float)) and 0 < total <= MAX_STEP else None
    train = [q for q in points if q["kind"] == "train"]
    evals = [q for q in points if q["kind"] == "eval"]
    last_step = max(q["step"] for q in points)
    finished = _finished(summary, meta, progress, total, last_step, run)
    return Curves(
        name=run.name if p.is_dir() else f"{run.name}/{p.name}", path=str(p), source=source, files=files, notes=notes,
        steps=[q["step"] for q in train], loss=[q["loss"] for q in train], lr=[q["lr"] for q in train],
        grad_norm=[q["grad_norm"] for q in train], epoch=[q["epoch"] for q in train],
        loss_scale=[q["loss_scale"] for q in train] if any(not math.isnan(q["loss_scale"]) for q in train) else [],
        eval_steps=[q["step"] for q in evals], eval_loss=[q["loss"] for q in evals], eval_epoch=[q["epoch"] for q in evals],
        total_steps=total, finished=finished, config=config, config_file=config_file, summary=summary,
    )


NUMERIC_KEYS = ("per_device_train_batch_size", "gradient_accumulation_steps", "learning_rate", "num_train_epochs",
                "max_steps", "warmup_steps", "warmup_ratio", "cutoff_len", "lora_rank", "lora_alpha", "logging_steps",
                "eval_steps", "save_steps", "max_grad_norm", "weight_decay", "loraplus_lr_ratio", "val_size")


def _drop_non_numeric(config: dict, source: str | None, notes: list[str]) -> None:
    """A config value that should be a number and is not would be copied into the suggested config as is."""
    for key in NUMERIC_KEYS:
        if key in config:
            v = config[key]
            try:
                ok = not isinstance(v, bool) and math.isfinite(float(v))
            except (TypeError, ValueError, OverflowError):
                ok = False
            if not ok:
                notes.append(f"{source}: {key}: {json.dumps(v, default=str)[:40]} is not a number; ignored")
                del config[key]


def _finished(summary: dict, meta: dict, progress: dict, total: int | None, last_step: int, run: Path) -> bool:
    """A run is finished when a summary file or HF's train-end record exists, or it logged its last step."""
    status = str(summary.get("status", "")).lower()
    if status in ("running", "started"):
        return False
    # tiaocan's RunSummary.stop_reason: these ended before their planned end.
    if str(summary.get("stop_reason", "")).lower() in ("interrupted", "error", "pruned"):
        return False
    if summary or meta.get("_train_end"):
        return True
    cur = progress.get("current_steps")
    if total and isinstance(cur, (int, float)) and cur >= total:
        return True
    return bool(total and last_step >= total)


def read_some(paths: list[str | Path]) -> tuple[list[Curves], list[str]]:
    """Read several runs; an unreadable one is skipped with its reason (all unreadable: the UserError)."""
    if len(paths) == 1:
        return [read_run(paths[0])], []
    curves, skipped = [], []
    for p in paths:
        try:
            curves.append(read_run(p))
        except UserError as e:
            skipped.append(f"{p}: skipped ({e})")
    if not curves:
        raise UserError("no run could be read:\n  " + "\n  ".join(skipped))
    return curves, skipped


def read_runs(paths: list[str | Path]) -> list[Curves]:
    if not paths:
        raise UserError("give at least one run directory or log file")
    return [read_run(p) for p in paths]
