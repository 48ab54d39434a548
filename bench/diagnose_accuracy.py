"""Diagnose accuracy: per labelled run, the planted problems (expected) vs the findings diagnose reports.

Labelled runs:
- synthetic LLaMA-Factory / HF / tiaocan-format logs from bench/synth_runs.py (13 scenarios x 3 seeds x 2 lengths);
- real `tiaocan train` runs on SmolLM2-135M under bench/runs/<name>/ labelled in bench/runs/labels.yaml, each read
  three ways: the run dir, its trainer_state.json alone (HF view) and its trainer_log.jsonl alone (LF view).
A run passes when every expected id is found and nothing outside expected + allowed fires.
An expected entry "a|b" is met by any of a, b.

    .venv/bin/python bench/diagnose_accuracy.py [--only-real] [--only-synthetic] [--stress] [--show-findings]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from synth_runs import SCENARIOS, build_set  # noqa: E402

from tiaocan.diagnosis import diagnose  # noqa: E402


def judge(found: set[str], expected: list[str], allowed: list[str]) -> tuple[list[str], list[str]]:
    missed = [e for e in expected if not any(alt in found for alt in e.split("|"))]
    ok = {alt for e in expected for alt in e.split("|")} | set(allowed)
    return missed, sorted(found - ok)


def evaluate(runs: list[tuple[Path, dict]], show: bool) -> tuple[int, int, int, int]:
    n_pass = n_missed = n_false = planted = 0
    for path, label in runs:
        d = diagnose(path, check_data=False).runs[0]
        found = {f.id for f in d.findings}
        missed, extra = judge(found, label["expected"], label.get("allowed", []))
        planted += len(label["expected"])
        n_missed += len(missed)
        n_false += len(extra)
        ok = not missed and not extra
        n_pass += ok
        mark = "PASS" if ok else "FAIL"
        label_name = path.name if path.is_dir() else f"{path.parent.name}/{path.name}"
        print(f"{mark}  {label_name:38s} expected={','.join(label['expected']) or '-':40s} "
              f"found={','.join(sorted(found)) or '-'}" + (f"  MISSED={missed}" if missed else "") + (f"  FALSE={extra}" if extra else ""))
        if show or not ok:
            for f in d.findings:
                print(f"        [{f.severity}] {f.id}: {f.title} | {' ; '.join(f.evidence)[:200]}")
    return n_pass, len(runs), n_missed, n_false


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only-real", action="store_true")
    ap.add_argument("--only-synthetic", action="store_true")
    ap.add_argument("--show-findings", action="store_true")
    ap.add_argument("--stress", action="store_true",
                    help="synthetic set with other seeds (3-10) and lengths (40, 120, 1000 steps): 312 runs")
    a = ap.parse_args()
    total_fail = 0
    if not a.only_real:
        with tempfile.TemporaryDirectory() as tmp:
            kw = {"seeds": range(3, 11), "lengths": (40, 120, 1000)} if a.stress else {}
            runs = [(p, SCENARIOS[k]) for p, k in build_set(Path(tmp), **kw)]
            print(f"## synthetic runs ({len(runs)})")
            p, n, m, f = evaluate(runs, a.show_findings)
            print(f"synthetic: {p}/{n} runs pass; planted problems missed: {m}; false findings: {f}\n")
            total_fail += n - p
    labels_file = HERE / "runs" / "labels.yaml"
    if not a.only_synthetic and labels_file.is_file():
        labels = yaml.safe_load(labels_file.read_text()) or {}
        runs = []
        for name, lab in labels.items():
            d = HERE / "runs" / name
            if d.is_dir():  # the run dir, then each log file alone: the HF view and the LLaMA-Factory view
                runs += [(d, lab)] + [(d / f, lab) for f in ("trainer_state.json", "trainer_log.jsonl") if (d / f).is_file()]
        print(f"## real tiaocan train runs on SmolLM2-135M ({len(runs)})")
        p, n, m, f = evaluate(runs, a.show_findings)
        print(f"real: {p}/{n} runs pass; planted problems missed: {m}; false findings: {f}")
        total_fail += n - p
    return 1 if total_fail else 0


if __name__ == "__main__":
    sys.exit(main())
