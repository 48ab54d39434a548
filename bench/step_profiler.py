"""Where a training step's time goes: a TrainerCallback for bench/train_throughput.py --profile.

Step boundaries are consecutive `on_step_end` calls, so one "step" covers the Trainer's whole cycle: logging the
previous step, fetching and moving the next micro-batches, forward/backward for each, clipping, the optimizer.

  steps 1..warmup           timed only (allocator growth, cuBLAS/cuDNN heuristics, first-call costs)
  next `active` steps       torch.profiler (CPU + CUDA), then a compact text summary is written at once, so it
                            survives a side that is killed later for being slow
  next step (CUDA only)     torch.cuda.set_sync_debug_mode("warn"): every synchronising call (.item(), nonzero,
                            blocking copies...) raises a warning whose location is the Python line that caused it;
                            the summary lists those lines with their counts
  the rest                  timed only

The summary says: per-step wall time (median), the GPU's busy share of the profiled window (kernel time / wall:
near 1 = GPU-bound, near 0 = the CPU launching kernels is the bottleneck), kernels launched, aten ops dispatched,
host-device synchronisations and copies per step, the top GPU kernels by time and the top ops by self CPU time.
"""
from __future__ import annotations

import collections
import gzip
import json
import os
import shutil
import statistics
import time
import warnings
from pathlib import Path

from transformers import TrainerCallback

# CUDA runtime calls that block the host until the GPU has caught up (or that copy device -> host).
SYNC_CALLS = ("cudaStreamSynchronize", "cudaDeviceSynchronize", "cudaEventSynchronize", "cudaMemcpy",
              "cuStreamSynchronize", "cuCtxSynchronize")
LAUNCH_CALLS = ("cudaLaunchKernel", "cudaLaunchKernelExC", "cuLaunchKernel", "cuLaunchKernelEx",
                "cudaLaunchCooperativeKernel")
# aten ops that read a device value on the host (each one is a sync point on a GPU; on a CPU they are free):
# .item()/float()/int()/bool() go through _local_scalar_dense; boolean-mask indexing and nonzero need the count.
COPY_CALLS = ("cudaMemcpyAsync", "cudaMemsetAsync")  # issued copies (H2D, D2H, D2D); blocking ones also sync
SYNC_OPS = ("aten::_local_scalar_dense", "aten::item", "aten::is_nonzero", "aten::nonzero", "aten::masked_select",
            "aten::nonzero_static")


def _dev_self(e) -> float:
    return float(getattr(e, "self_device_time_total", None) or getattr(e, "self_cuda_time_total", 0) or 0)


class StepProfiler(TrainerCallback):
    def __init__(self, out: Path, side: str, warmup: int = 3, active: int = 3, micro_per_step: int = 1,
                 trace: bool = True):
        self.out, self.side, self.warmup, self.active, self.micro = Path(out), side, warmup, active, micro_per_step
        self.trace = trace
        self.out.mkdir(parents=True, exist_ok=True)
        self.t_last: float | None = None
        self.step_s: list[float] = []
        self.prof = None
        self.prof_t0 = 0.0
        self.sync_warn = None  # (catch_warnings context, its list)
        self.sync_sites: collections.Counter = collections.Counter()
        self.cuda = False
        self.notes: list[str] = []

    # ---- step boundaries
    def on_train_begin(self, args, state, control, **kw):
        import torch

        self.cuda = torch.cuda.is_available()
        self.t_last = time.perf_counter()

    def on_step_end(self, args, state, control, **kw):
        now = time.perf_counter()
        self.step_s.append(now - self.t_last)
        step = len(self.step_s)
        try:
            if step == self.warmup:
                self._start_profile()
            elif self.prof is not None and step == self.warmup + self.active:
                self._stop_profile()
                if self.cuda:
                    self._start_sync_debug()
            elif self.sync_warn is not None:
                self._stop_sync_debug()
        except Exception as e:  # noqa: BLE001 - a profiler problem must not cost the timing run
            self.notes.append(f"profiler error at step {step}: {type(e).__name__}: {e}")
            self.prof = self.sync_warn = None
        self._write_steps()
        self.t_last = time.perf_counter()  # the profiler's own work stays out of the next step

    def on_train_end(self, args, state, control, **kw):
        if self.prof is not None:  # fewer steps than warmup + active: summarise what was profiled
            self._stop_profile()
        if self.sync_warn is not None:
            self._stop_sync_debug()
        self._write_steps()

    # ---- torch.profiler window
    def _sync(self):
        if self.cuda:
            import torch

            torch.cuda.synchronize()

    def _start_profile(self):
        from torch.profiler import ProfilerActivity, profile

        self._sync()
        acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if self.cuda else [])
        self.prof = profile(activities=acts, record_shapes=False, with_stack=False)
        self.prof.__enter__()
        self.prof_t0 = time.perf_counter()

    def _stop_profile(self):
        self._sync()
        wall = time.perf_counter() - self.prof_t0
        prof, self.prof = self.prof, None
        prof.__exit__(None, None, None)
        n = max(1, min(self.active, len(self.step_s) - self.warmup))
        self._summarise(prof, wall, n)
        if self.trace:
            path = self.out / f"trace_{self.side}.json"
            prof.export_chrome_trace(str(path))
            with path.open("rb") as f, gzip.open(str(path) + ".gz", "wb") as g:
                shutil.copyfileobj(f, g)
            path.unlink()

    def _summarise(self, prof, wall: float, steps: int):
        avgs = prof.key_averages()
        by_name = {e.key: e for e in avgs}
        micro = steps * self.micro
        dev = "cuda" if self.cuda else "cpu"
        kernels = [e for e in avgs if str(getattr(e, "device_type", "")).endswith("CUDA")]
        gpu_us = sum(_dev_self(e) for e in kernels)
        cpu_ops = [e for e in avgs if e.key.startswith("aten::")]
        lines = [f"side {self.side}  device {dev}  profiled {steps} steps ({micro} micro-batches) in {wall:.3f} s"
                 f" = {1000 * wall / steps:.1f} ms/step (profiler overhead included)"]
        if self.cuda:
            lines.append(f"GPU busy: kernels+copies {gpu_us / 1e3:.1f} ms of {wall * 1e3:.1f} ms wall = "
                         f"{gpu_us / 1e6 / wall:.0%}  (low = launch/CPU-bound, high = GPU-bound)")
            launches = sum(by_name[k].count for k in LAUNCH_CALLS if k in by_name)
            lines.append(f"kernel launches per step {launches / steps:.0f}")
        lines.append(f"aten op calls per step {sum(e.count for e in cpu_ops) / steps:.0f} (nested calls counted)")
        lines.append("per step:  " + "  ".join(f"{k} {by_name[k].count / steps:g}"
                                               for k in SYNC_CALLS + COPY_CALLS + SYNC_OPS if k in by_name))
        copies = [e for e in avgs if e.key.startswith("Memcpy") or e.key.startswith("Memset")]
        if copies:
            lines.append("copies per step:  " + "  ".join(f"{e.key} {e.count / steps:g}" for e in copies))
        att = [e for e in kernels if any(s in e.key.lower() for s in ("fmha", "flash", "attention", "efficient",
                                                                      "softmax", "cudnn", "sdp"))]
        if att:
            lines.append("attention-like kernels: " + "; ".join(
                f"{e.key[:70]} x{e.count / steps:g}/step {_dev_self(e) / 1e3 / steps:.2f} ms/step" for e in
                sorted(att, key=_dev_self, reverse=True)[:6]))
        if self.cuda:
            lines.append("\ntop 20 GPU kernels / copies by time (ms per step, calls per step)")
            for e in sorted(kernels, key=_dev_self, reverse=True)[:20]:
                lines.append(f"  {_dev_self(e) / 1e3 / steps:9.2f}  {e.count / steps:7.1f}  {e.key[:110]}")
        lines.append("\ntop 25 by self CPU time (ms per step, calls per step)")
        for e in sorted(avgs, key=lambda e: e.self_cpu_time_total, reverse=True)[:25]:
            lines.append(f"  {e.self_cpu_time_total / 1e3 / steps:9.2f}  {e.count / steps:7.1f}  {e.key[:110]}")
        lines.extend(self.notes)
        (self.out / f"profile_{self.side}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
        counts = {k: by_name[k].count / steps for k in SYNC_CALLS + COPY_CALLS + SYNC_OPS + LAUNCH_CALLS
                  if k in by_name}
        (self.out / f"profile_{self.side}.json").write_text(json.dumps(dict(
            side=self.side, device=dev, steps=steps, micro_batches=micro, wall_s=wall, gpu_busy_us=gpu_us,
            aten_calls_per_step=sum(e.count for e in cpu_ops) / steps, per_step=counts)), encoding="utf-8")

    # ---- sync locator (CUDA only)
    def _start_sync_debug(self):
        import torch

        cw = warnings.catch_warnings(record=True)
        caught = cw.__enter__()
        warnings.simplefilter("always")
        self.sync_warn = (cw, caught)
        torch.cuda.set_sync_debug_mode("warn")

    def _stop_sync_debug(self):
        import torch

        torch.cuda.set_sync_debug_mode(0)
        cw, caught = self.sync_warn
        self.sync_warn = None
        cw.__exit__(None, None, None)
        for w in caught:
            if "synchroniz" in str(w.message).lower():
                path = w.filename.split("site-packages/")[-1]  # transformers/trainer.py, or a repo path
                where = f"{os.path.relpath(path) if path.startswith(os.getcwd()) else path}:{w.lineno}"
                self.sync_sites[where] += 1
        lines = [f"side {self.side}: synchronising calls in one step (set_sync_debug_mode), by Python line"]
        lines += [f"  {n:4d}  {site}" for site, n in self.sync_sites.most_common(30)] or ["  none"]
        with (self.out / f"profile_{self.side}.txt").open("a", encoding="utf-8") as f:
            f.write("\n" + "\n".join(lines) + "\n")

    def _write_steps(self):
        s = self.step_s
        rest = s[self.warmup + self.active + 1:] or s[1:] or s
        (self.out / f"steps_{self.side}.json").write_text(json.dumps(dict(
            side=self.side, step_s=[round(x, 4) for x in s],
            median_step_s_unprofiled=round(statistics.median(rest), 4) if rest else None)), encoding="utf-8")
