"""Load a user's dataset into one shape: a `datasets.Dataset` with a `messages` column.

Accepted: alpaca (instruction/input/output/system/history), sharegpt (conversations with from/value),
OpenAI messages (role/content); files in JSON, JSONL, CSV or Parquet; or dataset names from a
LLaMA-Factory `dataset_info.json`. Other columns (category, must_contain, lang, ...) pass through.
"""
from __future__ import annotations

import glob
import json
import os
from pathlib import Path
from typing import Any

from ..errors import DataError, UserError
from ..textio import check_readable, encoding_error, read_text
from .formats import FORMAT_COLUMNS, ColumnMap, detect_format, to_messages

EXTENSIONS = {".json": "json", ".jsonl": "json", ".ndjson": "json", ".csv": "csv", ".parquet": "parquet"}


def _locate_bad_json(path: Path) -> str | None:
    """datasets' JSON errors do not say where; find the first bad record ourselves."""
    text = path.read_text(encoding="utf-8", errors="replace")
    stripped = text.lstrip()
    if not stripped:
        return f"{path}: the file is empty"
    if stripped[0] == "[":
        try:
            json.loads(text)
        except json.JSONDecodeError as e:
            return f"{path}: line {e.lineno}, column {e.colno}: invalid JSON ({e.msg})"
        return None
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            return f"{path}: line {lineno}: invalid JSON ({e.msg}, column {e.colno})"
        if not isinstance(obj, dict):
            return f"{path}: line {lineno}: expected a JSON object per line, got {type(obj).__name__}"
    return None


def _read_file(path: Path):
    import datasets

    kind = EXTENSIONS.get(path.suffix.lower())
    if kind is None:
        raise DataError(f"{path}: unknown file type '{path.suffix}'; use .json, .jsonl, .csv or .parquet")
    check_readable(path, "data file", DataError)
    if path.stat().st_size == 0:
        raise DataError(f"{path}: the file is empty")
    if kind != "parquet" and (bad := encoding_error(path)) is not None:  # pyarrow reads bad UTF-8 without a word
        raise bad
    try:
        if kind == "csv":
            # CSV cells are text: read every column as str, else pandas turns an answer like "2" into an int.
            import pandas as pd

            ds = datasets.Dataset.from_pandas(pd.read_csv(path, dtype=str, keep_default_na=False), preserve_index=False)
        else:
            # data_files are glob patterns: escaped, `faq[12].jsonl` is that file, not faq1.jsonl or faq2.jsonl
            ds = datasets.load_dataset(kind, data_files=glob.escape(str(path.resolve())), split="train")
    except Exception as e:  # pyarrow / datasets errors: say where, else wrap with the file name
        # (located only on failure: parsing every line again costs as much as the load itself)
        problem = _locate_bad_json(path) if kind == "json" else None
        if problem:
            raise DataError(problem + ". Fix that record and run again.") from None
        raise DataError(f"{path}: cannot read as {kind}: {type(e).__name__}: {e}") from None
    if len(ds) == 0:
        raise DataError(f"{path}: no records found")
    return ds


def _from_dataset_info(name: str, dataset_dir: Path) -> tuple[Path, str, ColumnMap]:
    info_path = dataset_dir / "dataset_info.json"
    if not info_path.is_file():
        raise DataError(f"dataset '{name}' is not a file and {info_path} does not exist; "
                        "give a data file path or set dataset_dir to a folder with dataset_info.json")
    try:
        info = json.loads(read_text(info_path))
    except json.JSONDecodeError as e:
        raise DataError(f"{info_path}: line {e.lineno}: invalid JSON ({e.msg})") from None
    if name not in info:
        raise DataError(f"{info_path}: no dataset named '{name}' (known: {', '.join(sorted(info)) or 'none'})")
    entry = info[name]
    if "file_name" not in entry:
        raise DataError(f"{info_path}: dataset '{name}' has no file_name (hub/script datasets need internet; "
                        "download the file and point file_name at it)")
    file = dataset_dir / entry["file_name"]
    if not file.exists():
        raise DataError(f"{info_path}: dataset '{name}' names file_name '{entry['file_name']}', "
                        f"but {file} does not exist")
    fmt = entry.get("formatting", "alpaca")
    if fmt not in FORMAT_COLUMNS:
        raise DataError(f"{info_path}: dataset '{name}': formatting '{fmt}' is not supported (alpaca, sharegpt, openai)")
    return file, fmt, ColumnMap.from_info(fmt, entry.get("columns", {}), entry.get("tags", {}))


def _load_one(spec: str, dataset_dir: Path, formatting: str, require_answer: bool = True):
    path = Path(spec).expanduser()
    if path.is_dir():
        files = _folder_files(path)
        import datasets
        return datasets.concatenate_datasets([_load_one(str(f), dataset_dir, formatting, require_answer) for f in files])
    if path.suffix.lower() in EXTENSIONS or path.exists() or path.is_symlink():
        raw, fmt, cmap = _read_file(path), formatting, None
        source = str(path)
    else:
        file, fmt, cmap = _from_dataset_info(spec, dataset_dir)
        raw, source = _read_file(file), str(file)
        if formatting != "auto":
            fmt = formatting
    if fmt == "auto":
        fmt = detect_format(raw.column_names, source)
    cmap = cmap or ColumnMap.default(fmt)
    return to_messages(raw, fmt, cmap, source, require_answer)


def _folder_files(path: Path) -> list[Path]:
    """A folder of data files is all of them as one training set, unless that would be a mistake."""
    if (path / "dataset_info.json").is_file():
        try:
            names = ", ".join(sorted(json.loads(read_text(path / "dataset_info.json")))) or "none"
        except (ValueError, AttributeError):
            names = "see the file"
        raise DataError(f"{path} is a LLaMA-Factory dataset folder (it has dataset_info.json): give a dataset name "
                        f"from it (known: {names}) with dataset_dir: {path} (--dataset-dir {path}), or one file.")
    files = sorted(p for p in path.iterdir() if p.suffix.lower() in EXTENSIONS)
    if not files:
        raise DataError(f"{path}: folder has no .json/.jsonl/.csv/.parquet files")
    held_out = [p.name for p in files if any(w in p.stem.lower() for w in ("test", "eval", "valid", "dev"))]
    if held_out and len(files) > 1:
        raise DataError(f"{path}: the folder holds {', '.join(held_out)} beside other files; loading the folder "
                        "would train on the held-out data too. Give the training file itself.")
    return files


def split_spec(spec: str) -> list[str]:
    """A path is a path: a spec that names an existing file or folder is one dataset even with commas in it;
    otherwise a comma separates several files / dataset names (LLaMA-Factory's `dataset: a,b`)."""
    whole = str(spec).strip()
    if os.path.lexists(os.path.expanduser(whole)):
        return [whole]
    return [s.strip() for s in whole.split(",") if s.strip()]


def data_paths(spec: str, dataset_dir: str | Path = "data") -> list[Path]:
    """The local files/folders `spec` reads, as far as they can be found (for output-path checks; no errors)."""
    found = []
    for part in split_spec(spec):
        p = Path(part).expanduser()
        if p.exists():
            found.append(p)
            continue
        info = Path(dataset_dir) / "dataset_info.json"
        try:
            entry = json.loads(info.read_text(encoding="utf-8")).get(part) or {}
        except (OSError, ValueError, AttributeError):
            continue
        if isinstance(entry, dict) and entry.get("file_name") and (Path(dataset_dir) / entry["file_name"]).exists():
            found += [info, Path(dataset_dir) / entry["file_name"]]
    return found


def load_dataset(spec: str, dataset_dir: str | Path = "data", formatting: str = "auto",
                 max_samples: int | None = None, seed: int | None = None, require_answer: bool = True):
    """Load one or more (comma-separated) files or dataset_info.json names into a `messages` Dataset.

    require_answer=False (test sets) also accepts examples whose last turn is the user's.
    """
    import datasets

    if not spec or not str(spec).strip():
        raise UserError("no dataset given: pass a data file (--data / dataset: path.jsonl)")
    if formatting != "auto" and formatting not in FORMAT_COLUMNS:
        raise UserError(f"formatting / --format {formatting!r}: choose auto, {', '.join(FORMAT_COLUMNS)}")
    parts = split_spec(spec)
    sets = [_load_one(p, Path(dataset_dir), formatting, require_answer) for p in parts]
    ds = sets[0] if len(sets) == 1 else datasets.concatenate_datasets(sets)
    if max_samples is not None and max_samples < len(ds):
        ds = (ds.shuffle(seed=seed) if seed is not None else ds).select(range(max_samples))
    return ds


def quiet_progress(quiet: bool = True) -> None:
    """datasets' per-step progress bars are noise on small data; keep them for long jobs — unless the command
    line asked for quiet output (the default; `tiaocan --verbose` shows them)."""
    from datasets.utils import logging as ds_logging

    from ..verbosity import is_verbose, quiet_requested

    if quiet_requested() and not is_verbose():
        quiet = True
    (ds_logging.disable_progress_bar if quiet else ds_logging.enable_progress_bar)()


def messages_of(record: dict[str, Any]) -> list[dict[str, str]]:
    return [{"role": m["role"], "content": m["content"]} for m in record["messages"]]
