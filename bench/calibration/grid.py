"""The calibration grid: plan each (task, model), list every run, run them in parallel workers, append JSONL.

    python bench/calibration/grid.py jobs --models smollm2-135m,gemma3-270m --gpu H200 \
        --out bench/calibration/jobs.jsonl          # plans each (task, model) here; lists grid + baseline runs
    python bench/calibration/grid.py run --jobs bench/calibration/jobs.jsonl \
        --results bench/calibration/runs.jsonl --workers 8 --deadline 420   # resumable: done ids are skipped

Every run is one real `tiaocan.train` of the plan's configuration for that task and model (its cutoff_len,
LoRA rank / alpha / targets, packing, bf16, warmup, schedule) with only the knobs under study changed:
learning_rate, effective batch (micro x accumulation), loraplus_lr_ratio and epochs. Scored on the task's own
held-out file (val.jsonl, never trained on): eval loss about 6 times a run and always at its last step, so both
the final model's and the best checkpoint's loss are known. No checkpoints are written (the runs are for scoring).

Baselines (what users run today), each once per (task, model):
  plan_v0      the plan before the calibration (its lr, batch, epoch ceiling and loss-band stop), as written then:
               jobs.jsonl's rows (b7b84fe's planner); scored by the model it left, its last (measured.LEAVES_LAST)
  plan_v4      the plan now (plan_v1: the 2026-11-29 rule; plan_v2: 2026-11-30 morning, lr by epochs; plan_v3: the
               sqrt batch + seen rule fitted on 3 tasks, v4 on 5), exactly as
               `tiaocan plan --data train.jsonl --set eval_dataset=val.jsonl` writes it
               (horizon-aware lr, <= 3 epochs, stop on held-out loss keeping the best checkpoint)
  llamaboard   LlamaBoard's defaults: lr 5e-5, batch 2 x 8, 3 epochs, LoRA r 8 / alpha 16
  lf_example   LLaMA-Factory's examples/train_lora/llama3_lora_sft.yaml: lr 1e-4, 1 x 8, 3 epochs, warmup 0.1, r 8
  common_2e-4  the common 2e-4 (Unsloth / Axolotl / QLoRA scripts) at batch 2 x 4, 3 epochs
  practitioner the practitioner recipe: lr 5e-5, batch 2, LoRA+ ratio 16, 3 epochs
Other kinds: plan_loto (the plan as written by the rule refitted without that task: fit.py's form and constants
with the task left out, the issue's leave-one-task-out plan; with `--set key=value --kind NAME` the same plan with a
value the user fixed, e.g. plan_loto_lp16 for `--set loraplus_lr_ratio=16`), probe_v3 / probe_v4 (the config `plan --probe` chose, run as written; `probe.py --job` writes it) and rank (a grid
run at another LoRA rank / alpha, id suffix r<rank>a<alpha>; effects.py compares it with the r16 / alpha 32 curve).
"""
from __future__ import annotations

import argparse
import fcntl
import json
import math
import multiprocessing
import os
import shutil
import sys
import time
from functools import partial
from pathlib import Path
from unittest import mock

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from tasks import DATA, TASKS  # noqa: E402

# 8 learning rates, x2 apart, 1.25e-4 ... 1.6e-2: wide enough that the best is interior for every task seen so far
# (bench/RESULTS.md "tune quality": best 3.3e-3 at the top of a 3.3e-5...3.3e-3 space).
LRS = [1.25e-4 * 2 ** k for k in range(8)]
# Effective batches per task: x4 apart, scaled with the task (a batch of 64 on 60 examples is 1 step an epoch).
BATCHES = {"support60": (2, 8, 32), "support": (2, 8, 32), "pyfaq": (2, 8, 32), "chatter_zh": (4, 16, 64),
           "chatter_en": (4, 16, 64), "sharegpt": (8, 32, 128), "sharegpt100": (2, 8, 32),
           "chatter_topic": (2, 8, 32)}
EPOCHS = {"sharegpt": 1}  # 3 elsewhere; 3,000 long conversations x 3 epochs is more than this suite can afford
# + a 1-epoch lr sweep at this batch (the middle one; sharegpt100: the plan's, where its 3-epoch curve was measured on
# the CPU): the horizon effect alone, within a task
HORIZON_TASKS = {"support": 8, "chatter_en": 16, "sharegpt100": 2, "chatter_topic": 8}
LORAPLUS = 16.0
BASELINES = {
    "llamaboard": dict(learning_rate=5e-5, batch=16, num_train_epochs=3.0, lora_rank=8, lora_alpha=16),
    "lf_example": dict(learning_rate=1e-4, batch=8, num_train_epochs=3.0, warmup_ratio=0.1, lora_rank=8, lora_alpha=16),
    "common_2e-4": dict(learning_rate=2e-4, batch=8, num_train_epochs=3.0),
    "practitioner": dict(learning_rate=5e-5, batch=2, num_train_epochs=3.0, loraplus_lr_ratio=16.0),
}


def _rel(p: Path) -> str:
    """Paths relative to the repository root (runs start there), so a job list travels to another machine."""
    return os.path.relpath(p, HERE.parents[1])


def base_config(task: str, model: str, gpu: str | None) -> dict:
    """The plan's config for this task and model (what `tiaocan plan` would write)."""
    from tiaocan.planning import make_plan

    plan = make_plan(model, str(DATA / task / "train.jsonl"), gpu=gpu, overrides={"val_size": 0}, lang="en")
    return dict(plan.config)


def run_config(base: dict, task: str, *, lr: float, batch: int, epochs: float, micro_cap: int, **extra) -> dict:
    cfg = dict(base)
    micro = min(batch, micro_cap)
    cfg.update(learning_rate=lr, per_device_train_batch_size=micro, gradient_accumulation_steps=batch // micro,
               num_train_epochs=epochs, stop_loss_band=None, early_stopping_patience=None, val_size=0,
               eval_dataset=_rel(DATA / task / "val.jsonl"), dataset=_rel(DATA / task / "train.jsonl"),
               save_steps=10**9, save_total_limit=1, plot_loss=False, seed=0, loraplus_lr_ratio=None)
    cfg.update(extra)
    return cfg


PLAN_KIND = "plan_v4"  # bump when the plan's rules change, so runs of each version stay apart in runs.jsonl


def plan_job(task: str, model: str, gpu: str | None, kind: str = PLAN_KIND, overrides: dict | None = None) -> dict:
    """The current plan for this task, run as written (its own eval cadence, stop rule and best checkpoint);
    `overrides` are what a user would pass as `--set key=value` (the plan re-derives what depends on them)."""
    from tiaocan.planning import make_plan

    plan = make_plan(model, _rel(DATA / task / "train.jsonl"), gpu=gpu,
                     overrides={"eval_dataset": _rel(DATA / task / "val.jsonl"), **(overrides or {})}, lang="en")
    return written_job(task, model, kind, plan.config)


def loto_plan_job(task: str, model: str, gpu: str | None, runs: Path = HERE / "runs.jsonl", kind: str = "plan_loto",
                  overrides: dict | None = None) -> dict:
    """The plan for `task` as the learning-rate rule refitted without it would write it — fit.py's chosen form
    ("sqrt batch + seen") with its constants fitted on the other tasks' curves: the issue's leave-one-task-out plan,
    run as written. The rule's constants are swapped in for this one plan call and restored (a bench-only device: the
    product reads its constants from the rule module)."""
    import fit
    from tiaocan.planning.rules import learning_rate as rule_mod

    data = [d for d in fit.interior(fit.curves(fit.load(runs))) if d["task"] != task]
    names = ("MULT", "SEEN_EXP", "SEEN_MEASURED", "MODEL_MULT")
    loto = {n: v for n, v in fit.rule_constants(data).items() if n in names}
    saved = {n: getattr(rule_mod, n) for n in names}
    try:
        for n, v in loto.items():
            setattr(rule_mod, n, v)
        return plan_job(task, model, gpu, kind, overrides)
    finally:
        for n, v in saved.items():
            setattr(rule_mod, n, v)


def written_job(task: str, model: str, kind: str, config: dict, data: Path = DATA) -> dict:
    """A job that runs a planned config as written (plan_v*, probe_v*), on the task's own files."""
    cfg = dict(config, plot_loss=False, seed=0, save_total_limit=2, dataset=_rel(data / task / "train.jsonl"),
               eval_dataset=_rel(data / task / "val.jsonl"))
    b = cfg["per_device_train_batch_size"] * cfg["gradient_accumulation_steps"]
    jid = f"{model}|{task}|{kind}|lr{cfg['learning_rate']:.3g}|b{b}|e{cfg['num_train_epochs']:g}" \
          f"|lp{cfg.get('loraplus_lr_ratio') or 0:g}"
    return dict(id=jid, task=task, model=model, kind=kind, config=cfg)


SAME_RUN = ("model", "task", "batch", "micro", "epochs", "loraplus", "rank", "alpha", "cutoff", "n_train", "steps",
            "tokens")


def config_of(r: dict, like: dict | None) -> dict:
    """A run's whole config; for a run from before rows kept theirs, `like`'s (a run that agrees with it on everything
    a row records but the learning rate: SAME_RUN and the eval steps) with the run's learning rate."""
    if "config" in r:
        return r["config"]
    if like is None or any(r.get(k) != like.get(k) for k in SAME_RUN) or \
            [e[0] for e in r["evals"]] != [e[0] for e in like["evals"]]:
        raise ValueError(f"{r['id']} has no config kept: name a run that differs from it only in lr with --like")
    return dict(like["config"], learning_rate=r["lr"])


def seed_jobs(source: list[dict], seeds: list[int], like: dict | None = None) -> list[dict]:
    """Seed repeats (kind "seed") of measured runs: each source run's whole config at another seed, with `of` naming
    the run it repeats, so a config's result can be read as a mean over draws (measured.draws)."""
    out = []
    for r in source:
        for seed in seeds:
            cfg = dict(config_of(r, like), seed=seed)
            jid = "|".join([r["model"], r["task"], "seed", *r["id"].split("|")[3:], f"of-{r['kind']}", f"seed{seed}"])
            out.append(dict(id=jid, task=r["task"], model=r["model"], kind="seed", of=r["id"], config=cfg))
    return out


def list_jobs(models: list[str], gpu: str | None, micro_cap: int, tasks: list[str] | None = None) -> list[dict]:
    """Jobs in priority order: every (task, model)'s plain-LoRA grid first, then baselines, LoRA+, horizon."""
    tiers: dict[int, list[dict]] = {0: [], 1: [], 2: [], 3: []}
    for model in models:
        for task in tasks or TASKS:
            base = base_config(task, model, gpu)
            ep = float(EPOCHS.get(task, 3))
            mid = BATCHES[task][1]

            def add(tier, kind, **kw):
                cfg = run_config(base, task, micro_cap=micro_cap, **kw)
                jid = f"{model}|{task}|{kind}|lr{cfg['learning_rate']:.3g}|b{kw['batch']}|e{cfg['num_train_epochs']:g}" \
                      f"|lp{cfg.get('loraplus_lr_ratio') or 0:g}"
                tiers[tier].append(dict(id=jid, task=task, model=model, kind=kind, config=cfg))

            for lr in LRS:
                for b in BATCHES[task]:
                    add(0, "grid", lr=lr, batch=b, epochs=ep)
            plan_b = base["per_device_train_batch_size"] * base["gradient_accumulation_steps"]
            v0 = dict(base)
            add(1, "plan_v0", lr=v0["learning_rate"], batch=plan_b, epochs=float(v0["num_train_epochs"]),
                stop_loss_band=v0.get("stop_loss_band"))
            for name, b in BASELINES.items():
                b = dict(b)
                add(1, name, lr=b.pop("learning_rate"), batch=b.pop("batch"), epochs=b.pop("num_train_epochs"), **b)
            for lr in LRS:
                add(2, "grid", lr=lr / 4, batch=mid, epochs=ep, loraplus_lr_ratio=LORAPLUS)
            if task in HORIZON_TASKS:
                for lr in LRS:
                    add(3, "grid", lr=lr, batch=HORIZON_TASKS[task], epochs=1.0)
    jobs = [j for t in sorted(tiers) for j in tiers[t]]
    ids = [j["id"] for j in jobs]
    assert len(ids) == len(set(ids)), "duplicate job ids"
    return jobs


# ------------------------------------------------------------------------------------------------ running
def _done(results: Path) -> set[str]:
    if not results.is_file():
        return set()
    return {json.loads(line)["id"] for line in results.read_text(encoding="utf-8").splitlines() if line.strip()}


def _append(results: Path, row: dict) -> None:
    with results.open("a", encoding="utf-8") as f:  # two `run`s may share a results file: one locked write per row
        fcntl.flock(f, fcntl.LOCK_EX)
        f.write(json.dumps(row) + "\n")
        fcntl.flock(f, fcntl.LOCK_UN)


def _curves(run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """(step, value) of every logged eval_loss and train loss (the train curve, which fit.py replays through the
    loss-band stop to measure what the band would have done), from one read of the run's log."""
    out: dict[str, list[tuple[int, float]]] = {"eval_loss": [], "loss": []}
    log = run_dir / "trainer_log.jsonl"
    for line in log.read_text(encoding="utf-8").splitlines() if log.is_file() else []:
        r = json.loads(line)
        for key, series in out.items():
            if key in r:
                series.append((int(r.get("current_steps", 0)), float(r[key])))
    return out


def run_one(job: dict, scratch: Path) -> dict:
    from transformers import TrainerCallback

    import tiaocan
    from tiaocan.derive import steps_per_epoch, total_steps

    class EvalAtEnd(TrainerCallback):
        """Evaluate at the last step too, so the final model is always scored."""

        def on_step_end(self, args, state, control, **kw):
            if state.global_step >= state.max_steps:
                control.should_evaluate = True

    cfg = dict(job["config"])
    cfg["output_dir"] = str(scratch / job["id"].replace("|", "_"))
    n_train = sum(1 for _ in open(cfg["dataset"], encoding="utf-8"))
    steps = total_steps(steps_per_epoch(n_train, cfg["per_device_train_batch_size"], cfg["gradient_accumulation_steps"]),
                        cfg["num_train_epochs"])
    # a plan as written (plan_v1 ..., plan_loto, probe_v3) keeps its own eval cadence and best-checkpoint rule; plan_v0
    # is a grid-style run; a seed repeat keeps its source run's (its copied config carries it)
    if not job["kind"].startswith(("plan_", "probe_", "seed")) or job["kind"] == "plan_v0":
        cfg["eval_steps"] = max(1, math.ceil(steps / 6))
    t = time.time()
    row = dict(id=job["id"], task=job["task"], model=job["model"], kind=job["kind"], lr=cfg["learning_rate"],
               batch=cfg["per_device_train_batch_size"] * cfg["gradient_accumulation_steps"],
               micro=cfg["per_device_train_batch_size"], epochs=cfg["num_train_epochs"],
               loraplus=cfg.get("loraplus_lr_ratio") or 0, rank=cfg.get("lora_rank"), alpha=cfg.get("lora_alpha"),
               n_train=n_train, cutoff=cfg.get("cutoff_len"),
               config={k: v for k, v in cfg.items() if k != "output_dir"})  # the whole config, as the issue asks
    if job.get("of"):
        row["of"] = job["of"]  # a seed repeat: the run it repeats
    try:
        s = tiaocan.train(cfg, callbacks=[EvalAtEnd()], overwrite=True, quiet=True)
        logged = _curves(Path(cfg["output_dir"]))
        ev = logged["eval_loss"]
        row.update(steps=s.global_step, total_steps=s.total_steps, tokens=s.tokens_seen, stop=s.stop_reason,
                   final_train=s.final_train_loss, evals=ev, final_eval=ev[-1][1] if ev else None,
                   best_eval=min(e for _, e in ev) if ev else None, train=logged["loss"])
    except Exception as e:  # noqa: BLE001 — a failed run is a data point (e.g. divergence), not a crash
        row.update(error=f"{type(e).__name__}: {e}"[:300])
    row.update(seconds=round(time.time() - t, 2), device=_device())
    shutil.rmtree(cfg["output_dir"], ignore_errors=True)
    return row


def _device() -> str:
    import torch

    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"


def _init_worker() -> None:
    import torch

    torch.set_num_threads(int(os.environ.get("CALIB_THREADS", "1")))


def _run_before(job: dict, scratch: Path, deadline: float) -> dict | None:
    """One run in a pool process, unless the deadline has passed (then None: the job stays for a later `run`)."""
    return None if time.time() > deadline else run_one(job, scratch)


def run_jobs(jobs: list[dict], results: Path, workers: int, deadline: float, scratch: Path) -> int:
    """Run every job not yet in `results` on `workers` processes, appending each row as it ends; returns how many
    ran. A pool hands the next job to whichever worker is free (runs differ 10x in length), and a fresh process per
    run (maxtasksperchild=1) keeps one run's memory and threads from the next; `spawn` because torch and fork mix
    badly. Threads per process: CALIB_THREADS (default 1: two CPU-heavy processes on shared cores spin)."""
    done = _done(results)
    todo = [j for j in jobs if j["id"] not in done]
    # each spawned process reads the environment when it starts (the pool starts one per run): set for its life only
    env = {"OMP_NUM_THREADS": os.environ.get("CALIB_THREADS", "1"), "TOKENIZERS_PARALLELISM": "false"}
    ran = 0
    with mock.patch.dict(os.environ, env):  # restores (or removes) both when the pool is done
        ctx = multiprocessing.get_context("spawn")
        with ctx.Pool(max(1, workers), initializer=_init_worker, maxtasksperchild=1) as pool:
            for row in pool.imap_unordered(partial(_run_before, scratch=scratch, deadline=deadline), todo):
                if row is None:
                    continue
                _append(results, row)
                ran += 1
                print(f"[{ran}/{len(todo)}] {row['id']} -> final {row.get('final_eval')} best "
                      f"{row.get('best_eval')} {row['seconds']} s {row.get('error', '')}", flush=True)
    if ran < len(todo):
        print(f"deadline reached: {len(todo) - ran} job(s) left for a later run", flush=True)
    return ran


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    j = sub.add_parser("jobs")
    j.add_argument("--models", default="smollm2-135m")
    j.add_argument("--gpu", default=None, help="plan for this GPU (e.g. H200); default: this machine")
    j.add_argument("--micro-cap", type=int, default=16, help="largest micro batch (the rest is accumulation)")
    j.add_argument("--out", type=Path, default=HERE / "jobs.jsonl")
    j.add_argument("--tasks", default="", help="comma-separated task names (default: all)")
    j.add_argument("--plan-v1-only", action="store_true", help="only the current plan's run per (task, model)")
    j.add_argument("--plan-loto", action="store_true",
                   help="only the leave-one-task-out plan per (task, model): the rule refitted without that task")
    j.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                   help="with --plan-loto / --plan-v1-only: a value the user fixes (as `tiaocan plan --set`), e.g. "
                        "loraplus_lr_ratio=16; the plan re-derives what depends on it")
    j.add_argument("--kind", default=None, help="the jobs' kind (default plan_loto / plan_v4), e.g. plan_loto_lp16")
    sd = sub.add_parser("seeds", help="seed repeats of measured runs (kind seed)")
    sd.add_argument("--of", required=True, help="comma-separated run ids in --results to repeat")
    sd.add_argument("--seeds", default="1", help="comma-separated seeds")
    sd.add_argument("--like", default=None, help="for an --of run without its config kept: a run that differs from it "
                    "only in lr, whose config it then takes (config_of)")
    sd.add_argument("--results", type=Path, default=HERE / "runs.jsonl")
    sd.add_argument("--out", type=Path, required=True)
    r = sub.add_parser("run")
    r.add_argument("--jobs", type=Path, default=HERE / "jobs.jsonl")
    r.add_argument("--results", type=Path, default=HERE / "runs.jsonl")
    r.add_argument("--workers", type=int, default=1)
    r.add_argument("--deadline", type=float, default=1e9, help="seconds from now after which no run starts")
    r.add_argument("--scratch", type=Path, default=Path("/tmp/tiaocan_calib"))
    r.add_argument("--only", default="", help="comma-separated substrings a job id must contain (all of them)")
    a = p.parse_args()
    if a.cmd == "jobs":
        tasks = a.tasks.split(",") if a.tasks else list(TASKS)
        if (a.sets or a.kind) and not (a.plan_v1_only or a.plan_loto):
            p.error("--set / --kind apply to one plan's run: add --plan-loto or --plan-v1-only "
                    "(the grid's runs vary lr, batch and LoRA+ themselves)")
        bad = [x for x in a.sets if "=" not in x]
        if bad:
            p.error(f"--set {bad[0]}: expected KEY=VALUE, e.g. --set loraplus_lr_ratio=16")
        sets = {k: yaml.safe_load(v) for k, _, v in (x.partition("=") for x in a.sets)}
        if a.plan_v1_only:
            jobs = [plan_job(t, m, a.gpu, a.kind or PLAN_KIND, sets) for m in a.models.split(",") for t in tasks]
        elif a.plan_loto:
            jobs = [loto_plan_job(t, m, a.gpu, kind=a.kind or "plan_loto", overrides=sets)
                    for m in a.models.split(",") for t in tasks]
        else:
            jobs = list_jobs(a.models.split(","), a.gpu, a.micro_cap, tasks)
        a.out.write_text("".join(json.dumps(x) + "\n" for x in jobs), encoding="utf-8")
        print(f"{len(jobs)} jobs -> {a.out}")
    elif a.cmd == "seeds":
        rows = {r["id"]: r for r in map(json.loads, a.results.read_text(encoding="utf-8").splitlines()) if r}
        missing = [i for i in a.of.split(",") + ([a.like] if a.like else []) if i not in rows]
        if missing:
            p.error(f"--of {missing[0]}: no such run in {a.results}")
        try:
            jobs = seed_jobs([rows[i] for i in a.of.split(",")], [int(x) for x in a.seeds.split(",")],
                             rows.get(a.like) if a.like else None)
        except ValueError as e:
            p.error(str(e))
        a.out.write_text("".join(json.dumps(x) + "\n" for x in jobs), encoding="utf-8")
        print(f"{len(jobs)} jobs -> {a.out}")
    else:
        jobs = [json.loads(x) for x in a.jobs.read_text(encoding="utf-8").splitlines() if x.strip()]
        keep = [k for k in a.only.split(",") if k]
        jobs = [j for j in jobs if all(k in j["id"] for k in keep)]
        run_jobs(jobs, a.results, a.workers, time.time() + a.deadline, a.scratch)
        print(f"{len(_done(a.results))} runs in {a.results}")


if __name__ == "__main__":
    main()
