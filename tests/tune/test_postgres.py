"""Two workers on one PostgreSQL study; one is SIGKILLed mid-trial. The study survives, the dead worker's trial
is failed by the heartbeat check and retried with the same parameters by the other worker.

Needs a server: `bash scripts/ci_services.sh` starts one and writes TIAOCAN_TEST_PG_URL to .ci/services.env."""
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid

import pytest

from tune_helpers import small_config

PG_URL = os.environ.get("TIAOCAN_TEST_PG_URL")
pytestmark = [pytest.mark.postgres, pytest.mark.skipif(not PG_URL, reason="TIAOCAN_TEST_PG_URL is not set "
                                                                         "(run scripts/ci_services.sh)")]

WORKER = textwrap.dedent("""
    import json, sys
    from tiaocan.tuning import tune
    cfg, url, study, out = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    # A budget neither worker reaches: the test decides when they stop (A by SIGKILL, B once the retry ran).
    tune(config=cfg, storage=url, study=study, budget="100x", output_dir=out, quiet=True, heartbeat_s=1, grace_s=3)
""")


def _worker(cfg, study, out):
    import json

    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false"}
    out.mkdir(parents=True, exist_ok=True)
    log = open(out / "worker.log", "w")  # a file, not a pipe: a full pipe would block the worker
    return subprocess.Popen([sys.executable, "-c", WORKER, json.dumps(cfg), PG_URL, study, str(out)], env=env,
                            stdout=log, stderr=subprocess.STDOUT, text=True)


def _wait(predicate, timeout, what):
    end = time.time() + timeout
    while time.time() < end:
        got = predicate()
        if got is not None:
            return got
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def test_killed_worker_trial_is_retried(tiny_model_dir, tmp_path):
    import optuna
    from optuna.trial import TrialState

    from tiaocan.tuning.storage import open_storage

    cfg = small_config(tiny_model_dir, tmp_path, num_train_epochs=2)  # trials long enough to be caught mid-way
    study_name = f"pg-test-{uuid.uuid4().hex[:8]}"
    storage = open_storage(PG_URL, heartbeat_s=1, grace_s=3)

    def load():
        try:
            return optuna.load_study(study_name=study_name, storage=storage)
        except KeyError:
            return None

    def running_trial(pid):
        """A RUNNING trial of worker `pid` that has started (its config written)."""
        study = load()
        for t in study.get_trials(deepcopy=False) if study is not None else []:
            if t.state == TrialState.RUNNING and "config" in t.user_attrs and \
                    t.user_attrs.get("worker", "").endswith(f":{pid}"):
                return t.number
        return None

    def retried(victim):
        """The retry of `victim` once it has finished (completed or pruned)."""
        for t in load().get_trials(deepcopy=False):
            if t.system_attrs.get("failed_trial") == victim and t.state in (TrialState.COMPLETE, TrialState.PRUNED):
                return t.number
        return None

    a = _worker(cfg, study_name, tmp_path / "a")
    b = None
    try:
        _wait(lambda: running_trial(a.pid), 400, "worker A to report from a trial")
        b = _worker(cfg, study_name, tmp_path / "b")
        _wait(lambda: running_trial(b.pid), 400, "worker B to run a trial on the same study")
        victim = _wait(lambda: running_trial(a.pid), 400, "worker A to be mid-trial")
        a.send_signal(signal.SIGKILL)  # mid-trial: no chance to mark the trial
        a.wait(10)
        _wait(lambda: retried(victim), 400, f"worker B to retry trial {victim} of the killed worker")
        # The first bracket's rung-0 runs are recorded as pruned: the study's first full run comes after them.
        _wait(lambda: True if any(t.state == TrialState.COMPLETE for t in load().get_trials(deepcopy=False)) else None,
              400, "worker B to complete a trial")
        assert b.poll() is None, (tmp_path / "b" / "worker.log").read_text()[-3000:]  # B kept working through A's death
    finally:
        for p in (a, b):
            if p is not None and p.poll() is None:
                p.kill()
    trials = load().get_trials(deepcopy=False)
    by_number = {t.number: t for t in trials}
    assert by_number[victim].state == TrialState.FAIL  # the heartbeat check failed the dead worker's trial
    retries = [t for t in trials if t.system_attrs.get("failed_trial") == victim]
    assert retries, [(t.number, t.state.name, t.system_attrs) for t in trials]
    assert retries[0].params == by_number[victim].params
    assert retries[0].state in (TrialState.COMPLETE, TrialState.PRUNED)
    assert any(t.state == TrialState.COMPLETE for t in trials)
