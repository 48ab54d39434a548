"""How many CPU threads torch may use, chosen from the cores this process really has, before torch starts.

Measured on a 2-core machine (bench/threads.py, issue 13): with torch's default (one thread per core, OpenMP
threads spinning while they wait) a training beside one busy process ran at 86 useful tokens/s instead of 250
alone, and two trainings at once (`tune --workers 2`) at 56 each — while with one thread each they ran at ~175
each. OpenMP's threads busy-wait for each other at every parallel region; a core taken by someone else makes
every region wait for the slowest thread. So:

- the cores are those in the affinity mask and the cgroup CPU quota (a container's `--cpus`), not os.cpu_count();
- `tune --workers N` splits them: each worker gets cores // N;
- cores found busy (sampled from /proc/stat for 0.2 s) are not counted, and then threads sleep while they wait
  (OMP_WAIT_POLICY=PASSIVE) instead of spinning;
- OMP_NUM_THREADS / OMP_WAIT_POLICY set by the user are kept; TIAOCAN_THREADS=N overrides the choice.

The environment variables only take effect if set before torch is imported (OpenMP reads them once), which is
why the CLI calls configure_threads() first thing; if torch is already loaded, torch.set_num_threads still works.
"""
from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass
class ThreadChoice:
    threads: int
    passive: bool
    reason: str


def available_cores() -> int:
    """Cores this process may run on: affinity mask, capped by a cgroup v2/v1 CPU quota."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    quota = _cgroup_quota()
    return max(1, min(cores, int(quota + 0.5)) if quota else cores)


def _cgroup_quota() -> float | None:
    try:
        text = Path("/sys/fs/cgroup/cpu.max").read_text().split()
        if text and text[0] != "max":
            return int(text[0]) / int(text[1])
    except (OSError, ValueError, IndexError):
        pass
    try:
        q = int(Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us").read_text())
        p = int(Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us").read_text())
        return q / p if q > 0 and p > 0 else None
    except (OSError, ValueError):
        return None


def _cpu_times() -> dict[str, tuple[int, int]]:
    """Per-CPU (busy, total) jiffies from /proc/stat."""
    out = {}
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("cpu") and line[3:4].isdigit():
            name, *vals = line.split()
            v = [int(x) for x in vals[:8]]
            idle = v[3] + v[4]  # idle + iowait
            out[name] = (sum(v) - idle, sum(v))
    return out


def busy_cores(sample_s: float = 0.2) -> float:
    """Cores kept busy by other processes right now (this process sleeps while it samples); 0 if unknown."""
    try:
        allowed = {f"cpu{i}" for i in os.sched_getaffinity(0)}
        a = _cpu_times()
        time.sleep(sample_s)
        b = _cpu_times()
    except (AttributeError, OSError, ValueError):
        return 0.0
    busy = 0.0
    for cpu in allowed & a.keys() & b.keys():
        d_busy, d_total = b[cpu][0] - a[cpu][0], b[cpu][1] - a[cpu][1]
        if d_total > 0:
            busy += d_busy / d_total
    return busy


def choose_threads(workers: int = 1, cores: int | None = None, busy: float | None = None) -> ThreadChoice:
    """Threads for one of `workers` trainings on this machine; `cores`/`busy` are measured when not given."""
    cores = available_cores() if cores is None else cores
    share = max(1, cores // max(1, workers))
    busy = busy_cores() if busy is None else busy
    # a core counts as taken when someone else uses more than a third of it
    free = max(1, cores - int(busy + 2 / 3))
    threads = max(1, min(share, free // max(1, workers) or 1))
    passive = threads < cores or busy >= 2 / 3
    reason = (f"{threads} of {cores} cores" + (f", {workers} workers" if workers > 1 else "")
              + (f", {busy:.1f} cores busy elsewhere" if busy >= 2 / 3 else ""))
    return ThreadChoice(threads, passive, reason)


def configure_threads(workers: int = 1) -> ThreadChoice | None:
    """Set OMP_NUM_THREADS (+ OMP_WAIT_POLICY) for this process and the workers it spawns; None when the user set
    them. TIAOCAN_THREADS=N forces N."""
    forced = os.environ.get("TIAOCAN_THREADS", "").strip()
    if forced.isdigit() and int(forced) > 0:
        choice = ThreadChoice(int(forced), os.environ.get("OMP_WAIT_POLICY", "").upper() == "PASSIVE", "TIAOCAN_THREADS")
    elif os.environ.get("OMP_NUM_THREADS"):
        return None
    else:
        choice = choose_threads(workers)
    os.environ["OMP_NUM_THREADS"] = str(choice.threads)
    os.environ.setdefault("MKL_NUM_THREADS", str(choice.threads))
    if choice.passive:
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    if "torch" in sys.modules:  # a library user imported torch first: its intra-op pool can still be resized
        sys.modules["torch"].set_num_threads(choice.threads)
    return choice
