"""Long work as separate `tiaocan train|tune|eval` processes whose state lives under the runs dir.

A job is a folder `RUNS/.web/jobs/<name>/` holding `job.json` (kind, pid, argv, output path, start time),
`stdout.log` and the files the job was given (config YAML). The page keeps nothing: a refresh, a second tab or a
restarted server lists the same jobs by reading these folders, and the processes are their own sessions, so they
outlive the browser (and the server). Only the three tiaocan commands can be started; argv is built here from
values the page checked, never from a command line the browser sent.
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

KINDS = ("train", "tune", "eval")
_NAME = re.compile(r"[^A-Za-z0-9_.-]+")


def safe_name(name: str, default: str = "run") -> str:
    """A folder name that cannot climb out of the runs dir."""
    n = _NAME.sub("-", (name or "").strip()).strip(".-")
    return n[:80] or default


def jobs_dir(runs: Path) -> Path:
    return Path(runs) / ".web" / "jobs"


@dataclass
class Job:
    name: str
    kind: str
    argv: list[str]
    output: str  # the run dir (train), tune output dir, or eval JSON
    pid: int | None = None
    started: float = 0.0
    ended: float | None = None
    returncode: int | None = None
    stop_requested: bool = False
    extra: dict = field(default_factory=dict)

    @property
    def folder(self) -> Path:
        return Path(self.extra["folder"])

    def running(self) -> bool:
        return self.pid is not None and self.returncode is None and _alive(self.pid)

    def state(self) -> str:
        if self.running():
            return "stopping" if self.stop_requested else "running"
        if self.stop_requested:
            return "stopped"
        rc = self.returncode if self.returncode is not None else _rc_file(self.folder)
        return "finished" if rc == 0 else ("failed" if rc is not None else "ended")

    def log_tail(self, n: int = 4000) -> str:
        p = self.folder / "stdout.log"
        if not p.is_file():
            return ""
        with open(p, "rb") as f:
            f.seek(0, 2)
            size = f.tell()
            f.seek(max(0, size - n))
            return f.read().decode("utf-8", "replace")


def _alive(pid: int) -> bool:
    """The pid is ours only if it still runs a tiaocan command (pids are reused)."""
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True  # no /proc (macOS): trust kill(0)
    return b"tiaocan" in cmd and state != "Z"


def _rc_file(folder: Path) -> int | None:
    p = folder / "returncode"
    try:
        return int(p.read_text().strip())
    except (OSError, ValueError):
        return None


def _write(job: Job) -> None:
    p = job.folder / "job.json"
    tmp = p.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(job), indent=1, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, p)


def load(folder: Path) -> Job | None:
    try:
        d = json.loads((folder / "job.json").read_text(encoding="utf-8"))
        job = Job(**d)
    except (OSError, ValueError, TypeError):
        return None
    job.extra["folder"] = str(folder)
    if job.returncode is None:
        job.returncode = _rc_file(folder)
    return job


def list_jobs(runs: Path, kind: str | None = None) -> list[Job]:
    d = jobs_dir(runs)
    jobs = [j for f in sorted(d.iterdir()) if f.is_dir() and (j := load(f))] if d.is_dir() else []
    jobs = [j for j in jobs if kind is None or j.kind == kind]
    return sorted(jobs, key=lambda j: -j.started)


def new_folder(runs: Path, name: str) -> Path:
    """A fresh job folder: name, name-2, name-3, ..."""
    base = jobs_dir(runs)
    base.mkdir(parents=True, exist_ok=True)
    name = safe_name(name)
    folder, i = base / name, 1
    while folder.exists():
        i += 1
        folder = base / f"{name}-{i}"
    folder.mkdir()
    return folder


def start(runs: Path, kind: str, args: list[str], output: str, name: str, folder: Path | None = None,
          extra: dict | None = None) -> Job:
    """Start `python -m tiaocan KIND ARGS...` in its own session; the exit code lands in the job folder."""
    if kind not in KINDS:
        raise ValueError(f"unknown job kind {kind!r}")
    folder = folder or new_folder(runs, name)
    argv = [sys.executable, "-m", "tiaocan", kind, *[str(a) for a in args]]
    job = Job(name=folder.name, kind=kind, argv=argv, output=str(output), started=time.time(),
              extra={**(extra or {}), "folder": str(folder)})
    log = open(folder / "stdout.log", "ab")
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TERM": "dumb", "COLUMNS": "120"}
    # A shell only to record the exit code beside the job ("$@" keeps argv unparsed: nothing is interpolated).
    # `trap : INT` keeps the shell alive through Stop's SIGINT (a caught trap, unlike an ignored one, is reset for
    # the child, which gets its KeyboardInterrupt and writes its summary) so the exit code is still recorded.
    wrapper = ["/bin/sh", "-c", 'trap : INT; "$@"; echo $? > "$0/returncode"', str(folder), *argv]
    proc = subprocess.Popen(wrapper, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True, env=env, cwd=str(runs))
    log.close()
    job.pid = proc.pid
    _write(job)
    return job


def stop(job: Job) -> None:
    """SIGINT to the job's process group: tiaocan train ends as 'interrupted', writes its summary, can resume."""
    if job.running():
        job.stop_requested = True
        _write(job)
        try:
            os.killpg(job.pid, signal.SIGINT)
        except ProcessLookupError:
            pass
