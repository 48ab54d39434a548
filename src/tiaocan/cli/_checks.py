"""Checks every command runs before any heavy work: enumerated options, input files, output paths.

Output paths were once written over inputs (`inspect D --json D` replaced the training data) and an
unwritable `--json` failed only after minutes of work; both are now refused up front, naming the flag.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Optional

from ..errors import UserError

FORMATS = ("auto", "alpaca", "sharegpt", "openai")
# Files in a run directory that diagnose / report / eval read.
RUN_INPUTS = ("trainer_log.jsonl", "trainer_state.json", "run_summary.json", "tiaocan_config.yaml",
              "training_args.yaml", "all_results.json", "adapter_config.json", "adapter_model.safetensors",
              "model.safetensors", "config.json")


def check_choice(flag: str, value: str, choices: Iterable[str]) -> str:
    choices = tuple(choices)
    if value not in choices:
        raise UserError(f"{flag} {value!r}: choose one of {', '.join(choices)}")
    return value


def data_inputs(*specs: Optional[str], dataset_dir: Optional[str] = "data") -> list[Path]:
    """The local files a data spec reads (files, folders, dataset_info.json and the files it names)."""
    from ..data.load import data_paths

    found: list[Path] = []
    for spec in specs:
        if spec:
            found += data_paths(spec, dataset_dir or "data")
    return found


def run_inputs(*runs: os.PathLike | str) -> list[Path]:
    """A run argument and the files in it that are read."""
    found: list[Path] = []
    for r in runs:
        p = Path(r)
        found.append(p)
        if p.is_dir():
            found += [p / n for n in RUN_INPUTS if (p / n).exists()]
    return found


def _same(a: Path, b: Path) -> bool:
    try:
        return a.expanduser().resolve() == b.expanduser().resolve()
    except OSError:
        return False


def _inside(a: Path, folder: Path) -> bool:
    try:
        return folder.expanduser().resolve() in a.expanduser().resolve().parents
    except OSError:
        return False


def check_output(flag: str, path: Optional[os.PathLike | str], inputs: Iterable[Path] = (), *,
                 folder: bool = False) -> None:
    """`path` (a file, or a folder when `folder`) can be written and is none of the inputs."""
    if path is None:
        return
    p = Path(path)
    for q in inputs:
        if _same(p, q) or (not folder and q.is_dir() and _inside(p, q) and p.name in RUN_INPUTS):
            raise UserError(f"{flag} {p} is an input of this command ({q}); writing it would replace that file. "
                            f"Give {flag} a new path.")
    if p.exists() and p.is_dir() != folder:
        raise UserError(f"{flag} {p} is {'a folder' if p.is_dir() else 'a file'}; give a "
                        f"{'folder' if folder else 'file path'}.")
    # the nearest existing ancestor must be a writable folder (the rest is created)
    parent = p if folder else p.parent
    probe = parent.expanduser().absolute()
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise UserError(f"{flag} {p}: {probe} is a file, so the folder {parent} cannot be created. Give another path.")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise UserError(f"{flag} {p}: cannot write in {probe} (permission denied). Give a path you can write to.")
    if p.exists() and not folder and not os.access(p, os.W_OK):
        raise UserError(f"{flag} {p}: the file is read-only. Give another path or make it writable.")
