"""Tune quality: best held-out eval loss vs compute for tiaocan tune, random search, HF hyperparameter_search,
a dense grid and the plan alone, on SmolLM2-135M + the bundled support dataset.

All methods train through the same data split (val_size examples held out, same seed) and report the eval loss of
the model each configuration ends with. Compute is counted in full-run equivalents: training tokens divided by
the tokens of one full run of the plan's configuration (wall seconds are reported as well; tiaocan's figure
includes its intermediate evals).

The shared space is the plan's learning rate ÷10 … ×10 (log) × effective batch {4, 8}; epochs are fixed at the
run's value so the grid can cover the space. HF's search uses its own default Optuna space (lr 1e-6..1e-4,
epochs 1..5, batch 4..64, seed) as the issue asks. Compute is counted in training tokens, so the result does not
depend on how busy the machine is (run it with `nice -n 19`); the methods can run as separate processes
(`--skip`, `--grid-pick`, `--reuse-plan`) and be merged (`--merge`).

    nice -n 19 .venv/bin/python bench/tune_quality.py --threads 1      # 120 train examples, 2 epochs, 30-60 steps
    .venv/bin/python bench/tune_quality.py --samples 244 --epochs 3 --grid-lrs 9 --budget 3 --random 9 --hf-trials 6
"""
from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "src" / "tiaocan" / "examples" / "support" / "train.jsonl"
BATCHES = [4, 8]  # effective batches in the shared space (--batches)
TUNE_LABELS = {"tune": "tiaocan tune (successive halving over complete shorter runs)",
               "tune_asha": "tiaocan tune --pruner asha (Optuna's, judged mid-run)",
               "tune_hyperband": "tiaocan tune --pruner hyperband (Optuna's, judged mid-run)",
               "tune_wave": "before (8fc6ae0): mid-run ASHA after a first wave",
               "tune_wave_sliced": "before (8fc6ae0) + this sliced first wave: mid-run ASHA",
               "tune_plainlhs": "successive halving over complete shorter runs, plain hypercube"}


def base_config(args, out: Path):
    from tiaocan.config import build_config
    from tiaocan.planning import make_plan

    plan = make_plan("smollm2-135m", str(DATA))
    cfg = dict(plan.config)
    cfg.update(max_samples=args.samples, val_size=args.val, num_train_epochs=args.epochs, cutoff_len=args.cutoff,
               stop_loss_band=None, per_device_train_batch_size=2, per_device_eval_batch_size=2, plot_loss=False,
               save_steps=10**9, save_total_limit=1, output_dir=str(out / "plan"), dataset=str(DATA), seed=42,
               eval_steps=10**6)  # plain runs evaluate once, at their end (tiaocan's trials set their own cadence)
    return build_config(cfg)


def run(cfg, quiet=True) -> dict:
    """One full training run through tiaocan.train; its final eval loss, tokens and seconds."""
    from tiaocan.training import train

    t = time.time()
    s = train(cfg, overwrite=True, quiet=quiet)
    for p in Path(cfg.output_dir).glob("checkpoint-*"):
        import shutil

        shutil.rmtree(p, ignore_errors=True)
    return {"loss": s.final_eval_loss, "tokens": s.tokens_seen, "seconds": round(time.time() - t, 1),
            "lr": cfg.learning_rate, "eb": cfg.effective_batch(), "stop": s.stop_reason}


def with_params(base, out: Path, name: str, lr: float, eb: int):
    micro = min(2, eb)
    return base.model_copy(update=dict(learning_rate=lr, per_device_train_batch_size=micro,
                                       gradient_accumulation_steps=eb // micro, output_dir=str(out / name)))


def curve(points: list[dict], full_tokens: int) -> list[tuple[float, float]]:
    """Best loss so far vs cumulative compute (full-run equivalents), in run order."""
    best, spent, out = math.inf, 0, []
    for p in points:
        spent += p["tokens"]
        if p.get("loss") is not None and math.isfinite(p["loss"]):
            best = min(best, p["loss"])
        out.append((spent / full_tokens, best))
    return out


def hf_search(base, out: Path, n_trials: int, tokens_per_epoch: int) -> list[dict]:
    """transformers.Trainer.hyperparameter_search with its default Optuna space (LoRA model from tiaocan's loader)."""
    from transformers import Trainer, TrainingArguments

    from tiaocan.models import load_tokenizer
    from tiaocan.training.data import prepare_data
    from tiaocan.training.run import _load_model

    tok = load_tokenizer(base.model_name_or_path)
    data = prepare_data(base, tok, None)
    args = TrainingArguments(output_dir=str(out / "hf"), per_device_eval_batch_size=2, eval_strategy="no",
                             save_strategy="no", report_to="none", bf16=base.bf16, use_cpu=True, logging_steps=10,
                             lr_scheduler_type=base.lr_scheduler_type, warmup_steps=base.warmup_ratio,  # a ratio when < 1
                             disable_tqdm=True, seed=42)
    trainer = Trainer(model_init=lambda trial=None: _load_model(base)[1], args=args, train_dataset=data.train,
                      eval_dataset=data.eval, data_collator=data.collator, processing_class=tok)
    points: list[dict] = []
    t0 = [time.time()]

    def objective(metrics):
        loss = metrics["eval_loss"]
        p = dict(trainer.args.__dict__)
        epochs = p.get("num_train_epochs", 1)
        points.append({"loss": loss, "tokens": int(tokens_per_epoch * epochs), "seconds": round(time.time() - t0[0], 1),
                       "lr": p.get("learning_rate"), "eb": p.get("per_device_train_batch_size"), "epochs": epochs})
        t0[0] = time.time()
        return loss

    import optuna

    # The default hp_space (lr 1e-6..1e-4, epochs 1..5, batch 4..64, seed); a seeded sampler for reproducibility.
    trainer.hyperparameter_search(direction="minimize", backend="optuna", n_trials=n_trials,
                                  compute_objective=objective, sampler=optuna.samplers.TPESampler(seed=0))
    return points


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=144, help="max_samples before the held-out split")
    ap.add_argument("--val", type=int, default=24, help="held-out examples")
    ap.add_argument("--epochs", type=float, default=2.0)
    ap.add_argument("--cutoff", type=int, default=96)
    ap.add_argument("--budget", type=float, default=3.0, help="tiaocan tune budget in full runs")
    ap.add_argument("--random", type=int, default=9, help="random-search trials (full runs)")
    ap.add_argument("--grid-lrs", type=int, default=5, help="learning rates in the grid (x the batches)")
    ap.add_argument("--grid-pick", default="", help="only these grid lr indices (0 = lowest), e.g. 4,3")
    ap.add_argument("--hf-trials", type=int, default=2)
    ap.add_argument("--tune-seed", type=int, default=0, help="tiaocan tune's --seed (its spread points, TPE)")
    ap.add_argument("--tune-pruner", default="sh", help="tiaocan tune's --pruner (sh, asha, hyperband, none)")
    ap.add_argument("--out", default=str(ROOT / "runs" / "bench_tune"))
    ap.add_argument("--batches", default="4,8", help="effective batches in the shared space")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (1 avoids spin-waiting on a busy machine)")
    ap.add_argument("--skip", default="", help="comma-separated methods to skip: grid,random,hf,tune")
    ap.add_argument("--reuse-plan", default=None, help="partial.json of an earlier run with the same settings: "
                                                        "reuse its plan run (lets methods run in two processes)")
    ap.add_argument("--merge", nargs="*", default=None, help="only summarise: merge these partial.json files")
    args = ap.parse_args()
    BATCHES[:] = [int(x) for x in args.batches.split(",")]
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import datasets
    import transformers

    datasets.disable_progress_bars()
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    skip = set(filter(None, args.skip.split(",")))
    base = base_config(args, out)
    lr0 = base.learning_rate
    lo, hi = lr0 / 10, lr0 * 10
    results: dict = {"args": vars(args), "plan_lr": lr0, "plan_eb": base.effective_batch()}
    started = time.time()

    def log(msg):
        print(f"[{time.time() - started:6.0f}s] {msg}", flush=True)
        (out / "partial.json").write_text(json.dumps(results, indent=2, default=str))  # survives a later crash

    if args.merge:
        merged: dict = {}
        for path in args.merge:
            part = json.loads(Path(path).read_text())
            if "grid" in part and "grid" in merged:  # grid shares from several processes
                part["grid"] = {"points": merged["grid"]["points"] + part["grid"]["points"]}
            merged.update(part)
        return summarise(merged, merged["plan"]["tokens"], out)
    plan = json.loads(Path(args.reuse_plan).read_text())["plan"] if args.reuse_plan else run(base)
    full = plan["tokens"]
    results["plan"] = plan
    log(f"plan: lr {lr0:.3g} eb {base.effective_batch()} → eval loss {plan['loss']:.4f} ({plan['seconds']} s, {full} tokens)")

    if "tune" not in skip:
        from tiaocan.tuning import tune

        t = time.time()
        key = ("tune" if args.tune_pruner == "sh" else f"tune_{args.tune_pruner}") + \
            (f"_seed{args.tune_seed}" if args.tune_seed else "")
        r = tune(config=base, budget=f"{args.budget}x", output_dir=out / key, study=f"bench-{int(time.time())}",
                 space={"num_train_epochs": None, "warmup_ratio": None, "effective_batch": BATCHES,
                        "learning_rate": (lo, hi)}, quiet=True, seed=args.tune_seed, pruner=args.tune_pruner)
        pts = [{"loss": tr.value if tr.state == "COMPLETE" else None, "tokens": tr.tokens, "state": tr.state,
                "lr": tr.params.get("learning_rate"), "eb": tr.params.get("effective_batch"), "seconds": tr.wall_s,
                "role": tr.role, "rung": tr.rung, "examples": tr.examples, "curve": tr.curve}
               for tr in sorted(r.trials, key=lambda x: x.number)]
        results[key] = {"points": pts, "seconds": round(time.time() - t, 1), "best": r.best_value,
                        "n_pruned": r.n_pruned, "n_complete": r.n_complete}
        log(f"tiaocan tune {args.budget}x: best {r.best_value:.4f}, {r.n_trials} trials ({r.n_pruned} pruned), "
            f"{sum(p['tokens'] for p in pts) / full:.2f} full runs, {time.time() - t:.0f} s")

    if "grid" not in skip:
        lrs = [lo * (hi / lo) ** (i / (args.grid_lrs - 1)) for i in range(args.grid_lrs)]
        if args.grid_pick:  # a share of the grid for one process (indices into the ascending lr list)
            lrs = [lrs[int(i)] for i in args.grid_pick.split(",")]
        pts = []
        results["grid"] = {"points": pts}  # filled as runs finish, so partial.json holds them after a crash
        for lr in lrs:
            for eb in BATCHES:
                if math.isclose(lr, lr0) and eb == base.effective_batch():
                    pts.append(dict(results["plan"]))  # this grid point is the plan: reuse its run
                else:
                    pts.append(run(with_params(base, out, f"grid-{lr:.2g}-{eb}", lr, eb)))
                log(f"grid: lr {lr:.3g} eb {eb} → {pts[-1]['loss']:.4f}")
        results["grid"] = {"points": pts}

    if "random" not in skip:
        rng = random.Random(0)
        pts = []
        results["random"] = {"points": pts}
        for i in range(args.random):
            lr = math.exp(rng.uniform(math.log(lo), math.log(hi)))
            pts.append(run(with_params(base, out, f"random-{i}", lr, rng.choice(BATCHES))))
            log(f"random {i}: lr {lr:.3g} eb {pts[-1]['eb']} → {pts[-1]['loss']:.4f}")
        results["random"] = {"points": pts}

    if "hf" not in skip:
        n_train = base.max_samples - base.val_size if base.max_samples else None
        t = time.time()
        pts = hf_search(base, out, args.hf_trials, tokens_per_epoch=int(full / base.num_train_epochs))
        results["hf"] = {"points": pts, "seconds": round(time.time() - t, 1), "n_train": n_train}
        log(f"HF hyperparameter_search ({args.hf_trials} trials): best {min(p['loss'] for p in pts):.4f}")

    summarise(results, full, out)


def summarise(results: dict, full: int, out: Path) -> None:
    rows = [("plan alone", results["plan"]["loss"], 1.0, results["plan"]["seconds"])]
    curves, tune_labels = {}, []
    for key in sorted(results):  # tiaocan: "tune[_PRUNER][_seedN]" (see --tune-pruner, --tune-seed)
        if key.startswith("tune") and isinstance(results[key], dict) and "points" in results[key]:
            label = TUNE_LABELS.get(key.split("_seed")[0], key) + (f", seed {key.split('_seed')[1]}"
                                                                    if "_seed" in key else "")
            tune_labels.append((key, label))
    for key, label in tune_labels + [("random", "random search (no pruning)"), ("grid", "grid (lr × batch)"),
                                     ("hf", "HF hyperparameter_search (default space)")]:
        if key not in results:
            continue
        pts = results[key]["points"]
        c = curve(pts, full)
        curves[label] = c
        secs = results[key].get("seconds") or sum(p.get("seconds", 0) for p in pts)
        rows.append((label, c[-1][1], c[-1][0], secs))
    grid_best = min((r[1] for r in rows if r[0] == "grid (lr × batch)"), default=None)
    print("\n| method | best eval loss | compute (full runs) | wall s | vs grid best |")
    print("|---|---|---|---|---|")
    for name, loss, comp, secs in rows:
        rel = f"{100 * (loss - grid_best) / grid_best:+.2f} %" if grid_best else "-"
        print(f"| {name} | {loss:.4f} | {comp:.2f} | {secs:.0f} | {rel} |")
    rc = curves.get("random search (no pruning)")
    for key, label in tune_labels if rc else []:
        tc = curves[label]
        for who, target in (("tiaocan's", tc[-1][1]), ("random search's", rc[-1][1])):
            t_reach = next((x for x, y in tc if y <= target), None)
            r_reach = next((x for x, y in rc if y <= target), None)
            fmt = lambda v, c: f"{v:.2f}" if v is not None else f"not reached in {c[-1][0]:.2f}"  # noqa: E731
            ratio = (f"{r_reach / t_reach:.2f}x" if r_reach is not None and t_reach else
                     f"> {rc[-1][0] / t_reach:.2f}x" if t_reach else "-")
            print(f"{label}: compute to reach {who} best ({target:.4f}): tiaocan {fmt(t_reach, tc)} full runs, "
                  f"random search {fmt(r_reach, rc)}; random / tiaocan = {ratio}")
            results.setdefault("reach", {}).setdefault(key, {})[who] = {"target": target, "tiaocan": t_reach,
                                                                         "random": r_reach}
    results["rows"] = rows
    results["curves"] = curves
    (out / "tune_quality.json").write_text(json.dumps(results, indent=2, default=str))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    for label, c in curves.items():
        xs, ys = zip(*[(x, y) for x, y in c if math.isfinite(y)]) if any(math.isfinite(y) for _, y in c) else ([], [])
        ax.step(xs, ys, where="post", marker="o", ms=3, label=label)
    ax.scatter([1.0], [results["plan"]["loss"]], color="black", zorder=5, label="plan alone")
    ax.set_xlabel("compute (full-run equivalents of training tokens)")
    ax.set_ylabel("best held-out eval loss so far")
    ax.set_title("tune quality — SmolLM2-135M, support dataset")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    png = Path(__file__).with_name("tune_quality.png")
    fig.savefig(png, dpi=110)
    print(f"wrote {png} and {out / 'tune_quality.json'}")


if __name__ == "__main__":
    sys.exit(main())
