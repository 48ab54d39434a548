"""The HTML report's structure and PNGs, and the diagnose / report commands end to end."""
from __future__ import annotations

import base64
import json
import re
from html.parser import HTMLParser

import numpy as np
import pytest
from synth import decay, make_curves
from typer.testing import CliRunner

from tiaocan.cli import app
from tiaocan.diagnosis import diagnose
from tiaocan.diagnosis.report import write_report


def _write_lf(run, loss, eval_loss=()):
    """A LLaMA-Factory trainer_log.jsonl (+ training_args.yaml) from arrays."""
    run.mkdir(parents=True)
    n = len(loss)
    lines = [json.dumps({"current_steps": i + 1, "total_steps": n, "loss": float(v), "lr": 2e-4 * 0.5 * (1 + np.cos(np.pi * i / n)),
                         "epoch": 3 * (i + 1) / n, "percentage": 100 * (i + 1) / n}) for i, v in enumerate(loss)]
    every = n // max(1, len(eval_loss)) if eval_loss else 0
    for j, v in enumerate(eval_loss):
        lines.append(json.dumps({"current_steps": every * (j + 1), "total_steps": n, "eval_loss": v, "epoch": 3 * every * (j + 1) / n}))
    (run / "trainer_log.jsonl").write_text("\n".join(lines) + "\n")
    (run / "training_args.yaml").write_text("learning_rate: 2.0e-4\nnum_train_epochs: 3\nper_device_train_batch_size: 4\n"
                                            "gradient_accumulation_steps: 4\nlr_scheduler_type: cosine\n")
    return run


@pytest.fixture
def two_runs(tmp_path):
    good = _write_lf(tmp_path / "good", decay(120, seed=1), [1.8, 1.4, 1.2, 1.15, 1.1, 1.1])
    bad = decay(120, seed=2)
    bad[50:] *= 3
    return good, _write_lf(tmp_path / "bad", bad)


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.imgs = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "img":
            self.imgs.append(dict(attrs)["src"])


def test_report_html_is_self_contained_with_pngs(tmp_path, two_runs):
    out = write_report(list(two_runs), tmp_path / "out" / "report.html")
    html = out.read_text()
    p = _Tags()
    p.feed(html)
    assert p.tags.count("section") == 2 and "table" in p.tags and "pre" in p.tags
    assert len(p.imgs) == 2 and all(src.startswith("data:image/png;base64,") for src in p.imgs)  # loss + lr (no grad_norm)
    for src in p.imgs:
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    files = tmp_path / "out" / "report_files"
    assert (files / "loss.png").stat().st_size > 1000 and (files / "lr.png").is_file()
    assert "divergence" in html and "No problems found" in html and "learning_rate: 2e-4 → 5e-5" in html
    assert not re.search(r'src="(?!data:)', html)  # nothing loaded from outside the page


def test_report_rejects_non_html_name(tmp_path, two_runs):
    r = CliRunner().invoke(app, ["report", str(two_runs[0]), "-o", str(tmp_path / "r.png")])
    assert r.exit_code != 0 and ".html" in str(r.exception)


def test_cli_diagnose_table_yaml_and_json(tmp_path, two_runs):
    out = tmp_path / "d.json"
    r = CliRunner().invoke(app, ["diagnose", *map(str, two_runs), "--json", str(out)], terminal_width=200)
    assert r.exit_code == 0, r.output
    assert "healthy" in r.output and "needs changes" in r.output and "Suggested next config" in r.output
    assert "learning_rate: 5.0e-05  # was 2e-4: divergence" in r.output
    data = json.loads(out.read_text())
    assert [run["healthy"] for run in data["runs"]] == [True, False]
    assert data["runs"][1]["findings"][0]["id"] == "divergence"
    assert data["runs"][1]["suggested_config"]["learning_rate"] == pytest.approx(5e-5)


def test_cli_diagnose_bad_input_is_a_clean_error(tmp_path):
    import subprocess
    import sys

    (tmp_path / "trainer_log.jsonl").write_text("")
    r = subprocess.run([sys.executable, "-c", "from tiaocan.cli import main; main()", "diagnose", str(tmp_path)],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "trainer_log.jsonl: the file is empty" in r.stdout + r.stderr
    assert "Traceback" not in r.stdout + r.stderr


def test_public_api_diagnose(two_runs):
    import tiaocan

    d = tiaocan.diagnose(str(two_runs[0]))
    assert d.healthy and d.runs[0].source == "llamafactory"
    assert "diagnose" in tiaocan.__all__ and diagnose(list(two_runs)).healthy is False


def test_diagnose_json_roundtrip_with_nan():
    from tiaocan.diagnosis import Diagnosis, diagnose_curves

    loss = decay(50)
    loss[40:] = float("nan")
    d = Diagnosis(runs=[diagnose_curves(make_curves(loss), check_data=False)])
    back = Diagnosis.model_validate_json(d.model_dump_json())
    assert back.runs[0].findings[0].id == "divergence"


def test_compact_yaml_drops_tiaocan_defaults_only():
    from tiaocan.diagnosis.suggest import compact
    from tiaocan.diagnosis.types import Change

    cfg = {"learning_rate": 1e-4, "cutoff_len": 256, "lora_rank": 8, "num_train_epochs": 3.0, "my_key": 1}
    ch = [Change(key="learning_rate", old=2e-4, new=1e-4)]
    assert compact(cfg, ch, "tiaocan") == {"learning_rate": 1e-4, "cutoff_len": 256, "my_key": 1}
    assert compact(cfg, ch, "llamafactory") == cfg  # other tools' defaults differ from ours: keep every key


def test_cli_band_flag(two_runs):
    r = CliRunner().invoke(app, ["diagnose", str(two_runs[0]), "--band", "1.4,0.7"])
    assert r.exit_code != 0 and "--band" in str(r.exception)
    r = CliRunner().invoke(app, ["diagnose", str(two_runs[0]), "--band", "0.2,0.5", "--zh"], terminal_width=200)
    assert r.exit_code == 0 and "欠拟合" in r.output  # the healthy run is far above a 0.2–0.5 band
    # --lang is the flag every command shares; --zh stays as a hidden alias so old commands work
    r2 = CliRunner().invoke(app, ["diagnose", str(two_runs[0]), "--band", "0.2,0.5", "--lang", "zh"], terminal_width=200)
    assert r2.exit_code == 0 and r2.output == r.output
    r3 = CliRunner().invoke(app, ["diagnose", str(two_runs[0]), "--band", "0.2,0.5", "--lang", "en"], terminal_width=200)
    assert r3.exit_code == 0 and "欠拟合" not in r3.output
    assert "--zh" not in CliRunner().invoke(app, ["diagnose", "--help"]).output
