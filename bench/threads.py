"""CPU threads when the machine is not idle (issue 13, item 12): useful tokens/s of a short `tiaocan train`.

Three situations — alone, beside one busy process (`python -c "while True: pass"`), two trainings at once (what
`tune --workers 2` does) — each with torch's default (one thread per core: OMP_NUM_THREADS=<cores>), with
OMP_NUM_THREADS=1, and with tiaocan's own choice (no OMP_NUM_THREADS: `tiaocan.threads` decides; for the pair,
the split `tune --workers 2` gives each worker). Each training: the bundled support data, SmolLM2-135M, 10 steps,
micro batch 4 x 2 accumulation, packing, bf16 where the CPU has it natively. Targets: beside one busy process >= 65 % of idle throughput; two
workers together >= 1.3x one worker alone.

    .venv/bin/python bench/threads.py              # about 10 minutes on 2 cores; run it on an otherwise idle machine
    .venv/bin/python bench/threads.py --steps 4 --only alone   # a quicker look

Numbers go to bench/RESULTS.md ("CPU threads when the machine is busy") with the command and the conditions.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "src" / "tiaocan" / "examples" / "support" / "train.jsonl"
SITUATIONS = ("alone", "beside one busy process", "two trainings at once")
# bf16 only where this CPU has it natively (tiaocan.cpu): emulated bf16 would measure the emulation, not the threads.
BF16 = "false"
try:
    sys.path.insert(0, str(ROOT / "src"))
    from tiaocan.cpu import has_native_bf16

    BF16 = "true" if has_native_bf16() else "false"
except ImportError:
    pass


def train_cmd(out: Path, steps: int) -> list[str]:
    return [sys.executable, "-m", "tiaocan", "train", "model_name_or_path=smollm2-135m", f"dataset={DATA}",
            f"max_steps={steps}", "per_device_train_batch_size=4", "gradient_accumulation_steps=2", f"bf16={BF16}",
            "packing=true", "save_steps=100000", "plot_loss=false", f"output_dir={out}", "--quiet",
            "--json", str(out.parent / f"{out.name}.json")]


def env_for(setting: str, workers: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OMP_WAIT_POLICY", "TIAOCAN_THREADS")}
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    if setting == "default":
        from tiaocan.threads import available_cores

        env["OMP_NUM_THREADS"] = str(available_cores())  # what torch does by itself
    elif setting == "one":
        env["OMP_NUM_THREADS"] = "1"
    elif workers > 1:  # tiaocan, as `tune --workers N` splits the cores
        from tiaocan.threads import choose_threads

        choice = choose_threads(workers, busy=0.0)
        env["TIAOCAN_THREADS"] = str(choice.threads)
        env["OMP_WAIT_POLICY"] = "PASSIVE" if choice.passive else "ACTIVE"
    return env


def run_trainings(n: int, setting: str, steps: int, tmp: Path) -> list[float]:
    """Start n trainings together; their useful tokens/s (RunSummary.tokens_per_second)."""
    procs = []
    for i in range(n):
        out = tmp / f"{setting}-{n}-{i}-{time.time_ns()}"
        procs.append((out, subprocess.Popen(train_cmd(out, steps), env=env_for(setting, n), cwd=tmp,
                                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)))
    speeds = []
    for out, p in procs:
        _, err = p.communicate()
        if p.returncode != 0:
            raise SystemExit(f"training failed ({setting}, {n} at once):\n{err[-2000:]}")
        speeds.append(json.loads((out.parent / f"{out.name}.json").read_text())["tokens_per_second"])
    return speeds


def measure(situation: str, setting: str, steps: int, tmp: Path) -> list[float]:
    if situation == "two trainings at once":
        return run_trainings(2, setting, steps, tmp)
    hog = None
    if situation == "beside one busy process":
        hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        time.sleep(1.0)  # let it show up as busy before the training samples the cores
    try:
        return run_trainings(1, setting, steps, tmp)
    finally:
        if hog is not None:
            hog.kill()
            hog.wait()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--only", choices=("alone", "busy", "pair"), help="measure one situation only")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT / "src"))
    from tiaocan.threads import available_cores

    cores = available_cores()
    pick = {"alone": SITUATIONS[0], "busy": SITUATIONS[1], "pair": SITUATIONS[2]}
    situations = [pick[args.only]] if args.only else list(SITUATIONS)
    settings = (("default", f"default threads ({cores})"), ("one", "OMP_NUM_THREADS=1"), ("tiaocan", "tiaocan's choice"))
    rows = {}
    with tempfile.TemporaryDirectory(prefix="tiaocan-threads-") as d:
        subprocess.run(train_cmd(Path(d) / "warmup", 1), env=env_for("one", 1), cwd=d, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # the model is dequantised once
        for situation in situations:
            rows[situation] = {s: measure(situation, s, args.steps, Path(d)) for s, _ in settings}
            print(f"[{situation}] " + ", ".join(f"{s}: {' + '.join(f'{v:.0f}' for v in rows[situation][s])}"
                                             for s, _ in settings), file=sys.stderr, flush=True)
    print(f"\nuseful tokens/s, {args.steps}-step `tiaocan train`, {cores} cores\n")
    print("| situation | " + " | ".join(label for _, label in settings) + " |")
    print("|---|" + "---|" * len(settings))
    for situation, by in rows.items():
        cells = [" + ".join(f"{v:.0f}" for v in by[s]) + (f" = {sum(by[s]):.0f}" if len(by[s]) > 1 else "")
                 for s, _ in settings]
        print(f"| {situation} | " + " | ".join(cells) + " |")
    if SITUATIONS[0] in rows:
        alone = {s: sum(rows[SITUATIONS[0]][s]) for s, _ in settings}
        if SITUATIONS[1] in rows:
            print(f"\nbeside a busy process / alone (tiaocan's choice): "
                  f"{sum(rows[SITUATIONS[1]]['tiaocan']) / alone['tiaocan']:.0%} (target >= 65 %)")
        if SITUATIONS[2] in rows:
            print(f"two workers together / one alone (tiaocan's choice): "
                  f"{sum(rows[SITUATIONS[2]]['tiaocan']) / alone['tiaocan']:.2f}x (target >= 1.3x)")


if __name__ == "__main__":
    main()
