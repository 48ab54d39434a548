"""The web app without a browser: jobs, path rules, upload limits, the token rule, and that the app builds."""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from tiaocan.errors import UserError
from tiaocan.web import jobs


def test_safe_name_cannot_climb_out():
    assert jobs.safe_name("../../etc/passwd") == "etc-passwd"
    assert jobs.safe_name("  ") == "run"
    assert "/" not in jobs.safe_name("a/b\\c")


def test_job_runs_as_its_own_process_and_records_its_exit(tmp_path):
    j = jobs.start(tmp_path, "train", ["--help"], output=str(tmp_path / "x"), name="help")
    assert j.folder.parent == tmp_path / ".web" / "jobs"
    t = time.time()
    while jobs.load(j.folder).returncode is None and time.time() - t < 60:  # the exit code file is written last
        time.sleep(0.2)
    again = jobs.load(j.folder)  # a fresh read, as a second browser tab would do
    assert again.state() == "finished", again.log_tail()
    assert "Usage" in again.log_tail(n=10**7)  # the whole log: train --help lists every config key after the usage line
    assert [x.name for x in jobs.list_jobs(tmp_path, "train")] == ["help"]
    assert jobs.new_folder(tmp_path, "help").name == "help-2"


def test_only_tiaocan_commands_start(tmp_path):
    with pytest.raises(ValueError):
        jobs.start(tmp_path, "rm", ["-rf", "/"], output="", name="x")


def test_writes_stay_under_runs(tmp_path):
    pytest.importorskip("gradio")
    from tiaocan.web.common import Ctx, MAX_UPLOAD_MB, inside, store_upload

    assert inside(tmp_path / "a" / "b", tmp_path) == (tmp_path / "a" / "b").resolve()
    with pytest.raises(UserError):
        inside(tmp_path / ".." / "elsewhere", tmp_path)
    ctx = Ctx(runs=tmp_path)
    up = tmp_path.parent / "my upload;x.jsonl"
    up.write_text('{"messages": []}\n')
    stored = store_upload(ctx, str(up))
    assert stored.parent == tmp_path / ".web" / "uploads" and stored.suffix == ".jsonl"
    bad = tmp_path.parent / "x.sh"
    bad.write_text("echo")
    with pytest.raises(UserError):
        store_upload(ctx, str(bad))
    big = tmp_path.parent / "big.jsonl"
    with open(big, "wb") as f:
        f.truncate(MAX_UPLOAD_MB * 2**20 + 1)
    with pytest.raises(UserError, match="limit"):
        store_upload(ctx, str(big))


def test_token_required_off_loopback(capsys):
    pytest.importorskip("gradio")
    from tiaocan.web.app import auth_for

    assert auth_for("127.0.0.1", 7860, None) == (None, None)
    auth, token = auth_for("0.0.0.0", 7860, None)
    assert token and token in capsys.readouterr().out
    assert auth("anyone", token) and not auth("anyone", "guess")


def test_app_builds_with_every_tab(tmp_path):
    pytest.importorskip("gradio")
    from tiaocan.web.app import CSS, build_app
    from tiaocan.web.text import S

    demo = build_app(tmp_path / "runs")
    ids = {getattr(b, "elem_id", None) for b in demo.blocks.values()}
    assert {f"tab-{t}" for t in ("data", "plan", "train", "runs", "tune", "eval")} <= ids
    assert "Noto Sans CJK SC" in CSS
    assert all(zh for _en, zh in S.values())


def test_eval_box_takes_a_run_picked_typed_or_pasted_and_names_a_wrong_one(tmp_path):
    """The eval tab's run box: an option picked (its path) or a listed run's name typed + Enter; anything else, a
    folder outside --runs included, is an error naming what was typed and the runs there are."""
    gr = pytest.importorskip("gradio")
    from tiaocan.web.common import Ctx
    from tiaocan.web.eval_tab import resolve_run

    run = tmp_path / "web-run"
    run.mkdir()
    (run / "trainer_log.jsonl").write_text("{}\n", encoding="utf-8")
    ctx = Ctx(runs=tmp_path)
    assert resolve_run(ctx, str(run), "en") == run
    assert resolve_run(ctx, " web-run ", "en") == run
    with pytest.raises(gr.Error, match="No run named 'web-rnu'.*Runs there: web-run"):
        resolve_run(ctx, "web-rnu", "en")
    elsewhere = tmp_path.parent / f"{tmp_path.name}-elsewhere"
    elsewhere.mkdir()
    (elsewhere / "trainer_log.jsonl").write_text("{}\n", encoding="utf-8")
    with pytest.raises(gr.Error, match="No run named"):
        resolve_run(ctx, str(elsewhere), "en")
    with pytest.raises(gr.Error, match="Pick a run"):
        resolve_run(ctx, "", "en")
