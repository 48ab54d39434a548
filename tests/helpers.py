"""Helpers several test packages share: run the real CLI in-process, write a small bilingual Q&A file or a
calibration task."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

QA = [("Where is the shop?", "The shop is at 12 Harbour Road and opens from 9am to 6pm."),
      ("Can I return an item?", "Returns are accepted within 30 days with a receipt."),
      ("营业时间？", "我们的商店营业时间为上午9点到下午6点。")]


def write_qa(path: Path, n: int) -> Path:
    """`n` chat examples cycling through QA; every second answer is said twice (two answer lengths)."""
    with path.open("w", encoding="utf-8") as f:
        for i in range(n):
            q, a = QA[i % 3]
            f.write(json.dumps({"messages": [{"role": "user", "content": q},
                                             {"role": "assistant", "content": " ".join([a] * (1 + i % 2))}]},
                               ensure_ascii=False) + "\n")
    return path


def write_task(data_dir: Path, name: str, n_train: int, n_val: int) -> Path:
    """A calibration-suite task folder (bench/calibration/tasks.py's layout): data_dir/name/{train,val}.jsonl of
    numbered one-line questions and answers."""
    rows = [json.dumps({"messages": [{"role": "user", "content": f"question {i}?"},
                                     {"role": "assistant", "content": f"answer {i}."}]}) + "\n"
            for i in range(n_train + n_val)]
    task = data_dir / name
    task.mkdir(parents=True)
    (task / "train.jsonl").write_text("".join(rows[:n_train]))
    (task / "val.jsonl").write_text("".join(rows[n_train:]))
    return task


def run_cli(monkeypatch, capsys, *args) -> tuple[int, str]:
    """(exit code, stdout + stderr) of `tiaocan ARGS...` run in this process, as the console script runs it."""
    from tiaocan.cli import main
    from tiaocan.cli._app import state

    monkeypatch.setattr(sys, "argv", ["tiaocan", *map(str, args)])
    monkeypatch.setattr(state, "interrupt_reported", False)
    with pytest.raises(SystemExit) as e:
        main()
        raise SystemExit(0)
    out = capsys.readouterr()
    return e.value.code, out.out + out.err
