"""Local parallel workers: `tune(workers=N)` starts N-1 more processes on the same study, one per GPU.

Each worker is a plain `tune` call in its own process (spawned, so CUDA state is never forked) that joins the
study through the storage URL; with several GPUs, worker i sees only GPU i (CUDA_VISIBLE_DEVICES), the
starting process keeps device 0. Workers on other machines do the same by running the same command.
"""
from __future__ import annotations

import multiprocessing
import os
from typing import Any, Callable


def start_workers(n: int, tune: Callable[..., Any], kwargs: dict[str, Any]) -> list:
    """Start workers 1..n-1 running `tune(**kwargs)`; returns the processes (join them before collecting).
    `tune` is passed in (a module-level function pickles by name) so this module never imports the study."""
    import torch

    from ..threads import configure_threads

    # the workers split the cores (the CLI already did this before torch loaded; a library caller gets it here,
    # inherited by the spawned workers through OMP_NUM_THREADS); a user's own OMP_NUM_THREADS is kept
    configure_threads(n)
    ctx = multiprocessing.get_context("spawn")
    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    pinned = os.environ.get("CUDA_VISIBLE_DEVICES")
    procs = []
    for i in range(1, n):
        if gpus > i and pinned is None:
            os.environ["CUDA_VISIBLE_DEVICES"] = str(i)  # inherited by the child at start
        try:
            p = ctx.Process(target=tune, kwargs=kwargs, name=f"tiaocan-tune-worker-{i}")
            p.start()
        finally:
            if pinned is None:
                os.environ.pop("CUDA_VISIBLE_DEVICES", None)
        procs.append(p)
    return procs


def join_workers(procs: list) -> list[str]:
    """Wait for the workers; a note for each that did not end cleanly."""
    notes = []
    for p in procs:
        p.join()
        if p.exitcode:
            notes.append(f"worker {p.name} exited with code {p.exitcode}; its running trial is retried by the others "
                         "when its heartbeat goes stale")
    return notes
