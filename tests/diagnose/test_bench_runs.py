"""Regression test on the committed real runs (tiaocan train on SmolLM2-135M, bench/runs/): every planted problem
found, nothing outside the label fires. Reads logs only — no training here (bench/runs/make_real_runs.sh does that)."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tiaocan.diagnosis import diagnose

RUNS = Path(__file__).resolve().parents[2] / "bench" / "runs"
LABELS = yaml.safe_load((RUNS / "labels.yaml").read_text()) if (RUNS / "labels.yaml").is_file() else {}
PRESENT = {k: v for k, v in LABELS.items() if (RUNS / k / "trainer_log.jsonl").is_file()}


@pytest.mark.parametrize("name", sorted(PRESENT))
def test_real_labelled_run(name):
    label = PRESENT[name]
    found = {f.id for f in diagnose(RUNS / name, check_data=False).runs[0].findings}
    for want in label["expected"]:
        assert any(alt in found for alt in want.split("|")), f"{name}: planted {want} not found (found {found})"
    ok = {alt for e in label["expected"] for alt in e.split("|")} | set(label.get("allowed", []))
    assert found <= ok, f"{name}: false findings {found - ok}"
