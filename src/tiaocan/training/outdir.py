"""The output_dir rule: what counts as a tiaocan run, what --overwrite may delete, and when.

A user once pointed output_dir at the base model's folder and at a project folder; --overwrite emptied both
(model.safetensors, another run's adapter, README.md). So: a run is recognised only by the files tiaocan alone
writes (`tiaocan_config.yaml`, `run_summary.json`); --overwrite deletes only the files a run writes and its
`checkpoint-N/` folders, and only after config, data and model have been loaded (`clear_previous_run`, called
by train() just before training starts); output_dir may not be, contain or sit inside the model or data.
"""
from __future__ import annotations

import contextlib
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from ..config import TrainConfig
from ..errors import UserError

# Only tiaocan writes these: their presence is what makes a folder "a tiaocan run".
TIAOCAN_MARKERS = ("tiaocan_config.yaml", "run_summary.json")
# Everything else a run writes at the top level (Trainer, PEFT, tokenizer, our log and plot).
RUN_FILES = (*TIAOCAN_MARKERS, "trainer_state.json", "trainer_log.jsonl", "training_loss.png", "training_args.bin",
             "adapter_config.json", "adapter_model.safetensors", "model.safetensors", "model.safetensors.index.json",
             "config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
             "special_tokens_map.json", "chat_template.jinja")
SHARD_GLOB = "model-*-of-*.safetensors"  # a sharded full fine-tune
# Keys a resumed run may change without becoming a different run (budget, logging, stopping rules).
RESUME_MAY_CHANGE = {"num_train_epochs", "max_steps", "output_dir", "overwrite_output_dir", "logging_steps",
                     "eval_steps", "save_steps", "save_total_limit", "plot_loss", "report_to", "merge_adapter",
                     "stop_loss_band", "early_stopping_patience", "divergence_factor", "per_device_eval_batch_size"}
FINISHED = ("completed", "loss_band", "early_stopping")


@dataclass
class OutputPlan:
    """What check_output_dir decided: resume from `checkpoint`, delete `clear` later, or nothing to do."""

    checkpoint: str | None = None
    clear: list[Path] = field(default_factory=list)
    complete: object | None = None  # the finished run's RunSummary when --resume has nothing left to do


def checkpoints(out: Path) -> list[Path]:
    return sorted((p for p in out.glob("checkpoint-*") if p.is_dir() and p.name.split("-")[-1].isdigit()),
                  key=lambda p: int(p.name.split("-")[-1]))


def is_tiaocan_run(out: Path) -> bool:
    return out.is_dir() and any((out / m).is_file() for m in TIAOCAN_MARKERS)


def _would_overwrite(out: Path) -> list[str]:
    """Names in `out` that a run would write over."""
    if not out.is_dir():
        return []
    names = [n for n in (*RUN_FILES, "README.md", "merged") if (out / n).exists()]
    return names + [p.name for p in out.glob(SHARD_GLOB)] + [p.name for p in checkpoints(out)]


def _is_model_card(path: Path) -> bool:
    """PEFT / transformers write a README.md model card; a user's own README.md is never ours to delete."""
    try:
        head = path.read_text(encoding="utf-8", errors="replace")[:2000]
    except OSError:
        return False
    return head.startswith("---") and "library_name:" in head


def _run_files(out: Path) -> list[Path]:
    """The files and folders of the tiaocan run in `out` (nothing else in the folder)."""
    from ..config import load_config

    found = [out / n for n in RUN_FILES if (out / n).exists()] + list(out.glob(SHARD_GLOB)) + checkpoints(out)
    if (out / "README.md").is_file() and _is_model_card(out / "README.md"):
        found.append(out / "README.md")
    try:  # merged/ is ours only when this run was told to write it
        merged = load_config(out / "tiaocan_config.yaml").merge_adapter
    except (UserError, OSError):
        merged = False
    if merged and (out / "merged").is_dir():
        found.append(out / "merged")
    return found


def _overlap(out: Path, inputs: list[tuple[str, Path]]) -> None:
    o = out.expanduser().resolve()
    for what, p in inputs:
        q = p.expanduser().resolve()
        if o == q or q in o.parents or o in q.parents:
            relation = "is" if o == q else "is inside" if q in o.parents else "contains"
            raise UserError(f"output_dir {out} {relation} the {what} {p}: training would write over it. "
                            "Choose a new folder for output_dir (e.g. runs/my-run).")


def input_paths(cfg: TrainConfig) -> list[tuple[str, Path]]:
    """The local model folder and data files this config reads (what output_dir must stay clear of)."""
    from ..data.load import data_paths

    found: list[tuple[str, Path]] = []
    model = Path(cfg.model_name_or_path).expanduser()
    if model.exists():
        found.append(("model folder" if model.is_dir() else "model", model))
    for key in ("dataset", "eval_dataset"):
        spec = getattr(cfg, key)
        if spec:
            found += [(f"{key} file", p) for p in data_paths(spec, cfg.dataset_dir)]
    return found


def check_output_dir(cfg: TrainConfig, resume: bool, overwrite: bool) -> OutputPlan:
    """Decide what to do with output_dir; deletes nothing (clear_previous_run does, once setup succeeded).

    A folder holding a tiaocan run is never reused silently: --resume continues it (same training settings),
    --overwrite replaces it, anything else is refused with the way out. A folder that is not a tiaocan run but
    holds files a run writes (a model folder, another tool's run, a project README.md) is refused in any case.
    """
    out = Path(cfg.output_dir)
    _overlap(out, input_paths(cfg))
    if out.exists() and not out.is_dir():
        raise UserError(f"output_dir {out} is a file, not a folder. Choose a folder for output_dir.")
    ours = is_tiaocan_run(out)
    if not ours and (clash := _would_overwrite(out)):
        shown = ", ".join(clash[:6]) + (", …" if len(clash) > 6 else "")
        raise UserError(f"output_dir {out} is not a tiaocan run but holds {shown}, which training would write over "
                        "(--overwrite only ever replaces a tiaocan run). Choose a new folder for output_dir.")
    if resume:
        return _resume_plan(cfg, out)
    if ours:
        if not overwrite:
            raise UserError(f"output_dir {out} already holds a training run. Pass --overwrite (or "
                            "overwrite_output_dir: true) to replace it, --resume to continue it, or choose another "
                            "output_dir.")
        return OutputPlan(clear=_run_files(out))
    return OutputPlan()


def _resume_plan(cfg: TrainConfig, out: Path) -> OutputPlan:
    from ..config import load_config
    from .summary import RunSummary

    ckpts = checkpoints(out)
    saved = out / "tiaocan_config.yaml"
    before = load_config(saved).model_dump() if saved.is_file() else None
    if before is not None:
        now = cfg.model_dump()
        changed = sorted(k for k in now if k not in RESUME_MAY_CHANGE and before.get(k) != now.get(k))
        if changed:
            raise UserError(f"--resume: output_dir {out} holds a run with different settings ({', '.join(changed)}). "
                            "Resume with the same settings, or start a new run with --overwrite or another output_dir.")
    try:
        summary = RunSummary.read(out)
    except (OSError, ValueError):
        summary = None
    same_length = before is not None and all(before.get(k) == getattr(cfg, k) for k in ("num_train_epochs", "max_steps"))
    if summary is not None and summary.stop_reason in FINISHED and same_length:
        return OutputPlan(complete=summary)  # resuming would train a step past the end (step 13/12)
    if not ckpts:
        raise UserError(f"--resume: output_dir {out} has no checkpoint-N folder to resume from. "
                        "Run without --resume to start training.")
    return OutputPlan(checkpoint=str(ckpts[-1]))


def clear_previous_run(plan: OutputPlan) -> None:
    """--overwrite: delete the previous run's own files (nothing else in the folder)."""
    for p in plan.clear:
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)


@contextlib.contextmanager
def keep_user_readme(out: Path):
    """PEFT's save_pretrained edits any README.md in the folder into a model card; a user's own stays as it was."""
    readme = out / "README.md"
    mine = readme.is_file() and not _is_model_card(readme)
    before = readme.read_bytes() if mine else None
    try:
        yield
    finally:
        if before is not None:
            readme.write_bytes(before)
