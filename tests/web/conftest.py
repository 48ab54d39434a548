"""Fixtures for the web app: a `tiaocan web` server on a free port and headless Chromium (Debian's package)
driven by Playwright. Both skip with the reason when what they need is missing."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SUPPORT = ROOT / "src" / "tiaocan" / "examples" / "support"


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        p = shutil.which(name)
        if p:
            return p
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port: int, proc, timeout: float = 120) -> None:
    t = time.time()
    while time.time() - t < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"tiaocan web exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"tiaocan web did not listen on {port} in {timeout} s")


@pytest.fixture(scope="module")
def web_server(tmp_path_factory):
    pytest.importorskip("gradio", reason="the web extra is not installed (pip install -e .[web])")
    runs = tmp_path_factory.mktemp("web") / "runs"
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""),
           "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    log = open(runs.parent / "server.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "tiaocan", "web", "--runs", str(runs), "--port", str(port)],
                            stdout=log, stderr=subprocess.STDOUT, env=env, cwd=str(runs.parent),
                            start_new_session=True)
    try:
        _wait_port(port, proc)
        yield {"url": f"http://127.0.0.1:{port}", "runs": runs, "log": runs.parent / "server.log"}
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        # jobs are their own sessions (they outlive the server by design): end the ones this test started
        from tiaocan.web import jobs

        for j in jobs.list_jobs(runs):
            if j.running():
                jobs.stop(j)


@pytest.fixture(scope="module")
def browser():
    exe = chromium_path()
    if exe is None:
        pytest.skip("no chromium on PATH: apt-get install chromium fonts-noto-cjk (scripts/ci_services.sh does)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e .[test])")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=["--no-sandbox", "--disable-dev-shm-usage"])
        yield b
        b.close()


@pytest.fixture(scope="module")
def shots_dir() -> Path:
    """Screenshots go to $TIAOCAN_WEB_SHOTS or build/web-screenshots (kept after the run, to be looked at)."""
    d = Path(os.environ.get("TIAOCAN_WEB_SHOTS", ROOT / "build" / "web-screenshots"))
    d.mkdir(parents=True, exist_ok=True)
    return d
