"""Training throughput: tiaocan vs a plain transformers.Trainer + PEFT run, same model, data, batch and steps.

    python bench/train_throughput.py [--steps 24] [--micro 4] [--accum 2] [--cutoff 512]

Model: SmolLM2-135M (embedded). Data: a seeded mix of the bundled support set (short answers) and the
Python FAQ from Debian's python3.11-doc (long answers), so lengths vary as in real data. Both sides train
LoRA (r 8, all linear layers) on exactly the same examples for one pass (steps x effective batch
examples), so both process the same useful tokens. Each side runs in its own subprocess; we report useful
(non-padding) tokens per second of training time and the process's peak RSS.

  plain:   Trainer + PEFT, DataCollatorForSeq2Seq (pad to the longest in a random batch), fp32, no
           denormal flush — what a typical script does.
  tiaocan: tiaocan.train with its defaults for this machine: padding-free packing, denormal flush, logits
           only at label positions, and (the -bf16 variant, what `tiaocan plan` sets) bf16: true, which on a
           CPU with native bf16 also loads the frozen base in bf16. `-grouped`: length-grouped batches
           instead of packing. `-fulllogits`: logits at every position (label-only logits off), to isolate
           that change. `-unfixed`: without the GPU fixes of 2026-11-30 (label positions and token count read
           from the device batch, PEFT's autocast round-trip casts kept), i.e. the code the first GPU session ran.
           `plain-bf16`: the plain script with bf16=True (autocast only).

Where the time goes: `--profile DIR` adds bench/step_profiler.py's callback to every side (torch.profiler over a
few steps after a warm-up; on CUDA also the Python lines that synchronise with the GPU) and writes
DIR/profile_<side>.txt, .json, steps_<side>.json and a gzipped Chrome trace. bench/gpu/profile.sh runs it on a GPU.
Every worker also reports its setup seconds (start to the first step) next to the training loop's.
"""
from __future__ import annotations

import argparse
import html
import json
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = ["plain", "plain-bf16", "tiaocan", "tiaocan-bf16", "tiaocan-grouped", "tiaocan-bf16-grouped",
            "tiaocan-fulllogits", "tiaocan-bf16-fulllogits", "tiaocan-unfixed", "tiaocan-bf16-unfixed"]
T0 = time.perf_counter()  # the worker's start: setup seconds = T0 to the first training step
SUPPORT = ROOT / "src" / "tiaocan" / "examples" / "support" / "train.jsonl"
FAQ_DIR = Path("/usr/share/doc/python3.11/html/faq")


def faq_pairs() -> list[dict]:
    """Question/answer pairs from the Python FAQ HTML. A regex is enough here: Sphinx writes every question
    as an <h3> heading inside its own <section>, and we only need the plain text."""
    pairs = []
    for page in sorted(FAQ_DIR.glob("*.html")):
        text = page.read_text(encoding="utf-8")
        for m in re.finditer(r"<h3>(.*?)<a class=\"headerlink\".*?</h3>(.*?)(?=<section|</section>)", text, re.S):
            q = html.unescape(re.sub(r"<[^>]+>", "", m.group(1))).strip()
            a = html.unescape(re.sub(r"<[^>]+>", "", m.group(2)))
            a = re.sub(r"\n\s*\n+", "\n\n", a).strip()
            if q and len(a) > 40:
                pairs.append({"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]})
    return pairs


def build_data(n: int, path: Path, seed: int = 0) -> None:
    pool = [json.loads(line) for line in SUPPORT.read_text(encoding="utf-8").splitlines() if line.strip()]
    pool = [{"messages": r["messages"]} for r in pool]
    if FAQ_DIR.is_dir():
        pool += faq_pairs()
    else:
        print(f"note: {FAQ_DIR} missing (apt-get install python3.11-doc); using the support set only")
    random.Random(seed).shuffle(pool)
    if len(pool) < n:
        raise SystemExit(f"need {n} examples, have {len(pool)}")
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in pool[:n]), encoding="utf-8")


def rendered(model_dir: str, data: Path, cutoff: int):
    from tiaocan.data import load_dataset, render_dataset
    from tiaocan.models import load_tokenizer

    tok = load_tokenizer(model_dir)
    ds = render_dataset(load_dataset(str(data)), tok, cutoff)
    return tok, ds.select_columns(["input_ids", "labels"])


def loop_timer():
    """A TrainerCallback timing only the training loop (wall and CPU seconds), the same way on both sides.
    CPU seconds are the steadier number on a shared machine: other processes' load stretches wall time."""
    from transformers import TrainerCallback

    class LoopTimer(TrainerCallback):
        def on_train_begin(self, args, state, control, **kw):
            self.setup = time.perf_counter() - T0
            self.wall, self.cpu = time.perf_counter(), time.process_time()
            self.marks = [self.wall]

        def on_step_end(self, args, state, control, **kw):
            self.marks.append(time.perf_counter())

        def on_train_end(self, args, state, control, **kw):
            self.wall, self.cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu

        def median_step(self) -> float:
            """Median optimizer step (step-end to step-end, the first step left out: warm-up). Unlike the loop's wall
            time it leaves out what runs once (the final checkpoint tiaocan saves, a profiler's summary)."""
            steps = sorted(b - a for a, b in zip(self.marks[1:], self.marks[2:]))
            return steps[len(steps) // 2] if steps else float("nan")

    return LoopTimer()


def extra_callbacks(a, side: str) -> list:
    if not a.profile:
        return []
    from step_profiler import StepProfiler

    return [StepProfiler(Path(a.profile), side, warmup=a.profile_warmup, active=a.profile_steps, micro_per_step=a.accum,
                         trace=side in (a.profile_trace or "").split(","))]


def worker_plain(a, bf16: bool = False) -> dict:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, DataCollatorForSeq2Seq, Trainer, TrainingArguments

    torch.manual_seed(0)
    tok, ds = rendered(a.model_dir, Path(a.data), a.cutoff)
    model = AutoModelForCausalLM.from_pretrained(a.model_dir)
    model = get_peft_model(model, LoraConfig(r=8, lora_alpha=16, target_modules="all-linear", task_type="CAUSAL_LM"))
    with tempfile.TemporaryDirectory() as tmp:
        args = TrainingArguments(output_dir=tmp, per_device_train_batch_size=a.micro, gradient_accumulation_steps=a.accum,
                                 num_train_epochs=1, learning_rate=2e-4, lr_scheduler_type="cosine", logging_steps=1,
                                 save_strategy="no", report_to="none", use_cpu=not torch.cuda.is_available(),
                                 bf16=bf16, disable_tqdm=True, seed=0)
        collator = DataCollatorForSeq2Seq(tok, padding=True, label_pad_token_id=-100)
        timer = loop_timer()
        trainer = Trainer(model=model, args=args, train_dataset=ds, data_collator=collator,
                          callbacks=[timer, *extra_callbacks(a, a.worker)])
        out = trainer.train()
    return {"seconds": timer.wall, "cpu_seconds": timer.cpu, "setup_seconds": timer.setup, "steps": out.global_step,
            "median_step_s": timer.median_step(),
            "loss": out.training_loss}


def unfix_gpu_changes() -> None:
    """The training path as before 2026-11-30 (run.py imports these when it builds the Trainer): the collator adds
    nothing, so the loss and the token count read the device batch again, and PEFT's input casts stay on."""
    import tiaocan.training.lora as lora_mod
    import tiaocan.training.loss as loss_mod

    loss_mod.LabelPositions = lambda collator, count_all: collator
    lora_mod.skip_autocast_round_trip = lambda model, cfg: 0


def worker_tiaocan(a, bf16: bool, packing: bool = True, label_only: bool = True, fixed: bool = True) -> dict:
    from tiaocan.training import train

    if not fixed:
        unfix_gpu_changes()
    if not label_only:  # run.py imports it at trainer creation: this switches the label-only loss off
        import tiaocan.training.loss as loss_mod

        loss_mod.supports_label_only_logits = lambda model: False
    timer = loop_timer()
    with tempfile.TemporaryDirectory() as tmp:
        s = train(dict(model_name_or_path=a.model_dir, dataset=a.data, cutoff_len=a.cutoff, per_device_train_batch_size=a.micro,
                       gradient_accumulation_steps=a.accum, num_train_epochs=1, learning_rate=2e-4, lora_rank=8,
                       packing=packing, bf16=bf16, save_steps=10**6, plot_loss=False, output_dir=tmp, seed=0),
                  callbacks=[timer, *extra_callbacks(a, a.worker)], quiet=True)
        rows = [json.loads(x) for x in (Path(tmp) / "trainer_log.jsonl").read_text().splitlines()]
    losses = [r["loss"] for r in rows if "loss" in r]
    return {"seconds": timer.wall, "cpu_seconds": timer.cpu, "setup_seconds": timer.setup, "steps": s.global_step,
            "median_step_s": timer.median_step(),
            "loss": sum(losses) / len(losses)}


def random_model_dir(key: str, tokenizer_dir: str, out: Path) -> str:
    """A built-in shape with random weights and the given tokenizer's vocabulary, saved as a model folder in fp32
    like the SmolLM2 folder (so "plain" trains in fp32 and the bf16 variants choose bf16 themselves)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    from tiaocan.planning.archs import BUILTIN

    d = dict(BUILTIN[key])
    tok = AutoTokenizer.from_pretrained(tokenizer_dir)
    d["vocab_size"] = len(tok)
    cfg = AutoConfig.for_model(d.pop("model_type"), **d)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(cfg)
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return str(out)


def run_side(side: str, a, timeout: float | None = None) -> dict | None:
    """One side in its own process. With a timeout, a side that runs over is killed and reported (None), and the
    next side still runs (its profile summary, written mid-run, is already on disk)."""
    cmd = [sys.executable, __file__, "--worker", side, "--data", a.data, "--model-dir", a.model_dir,
           "--micro", str(a.micro), "--accum", str(a.accum), "--cutoff", str(a.cutoff)]
    if a.profile:
        cmd += ["--profile", a.profile, "--profile-warmup", str(a.profile_warmup), "--profile-steps", str(a.profile_steps),
                "--profile-trace", a.profile_trace or ""]
    started = time.perf_counter()
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        print(f"  {side:13s} killed after {timeout:.0f} s (--side-timeout / --budget); last output: {out[-300:]!r}")
        return None
    line = [x for x in r.stdout.splitlines() if x.startswith("RESULT ")]
    if r.returncode or not line:
        msg = f"{side} failed:\n{r.stdout[-2000:]}\n{r.stderr[-3000:]}"
        if timeout:  # keep going: the other sides' numbers are still worth having
            print(msg)
            return None
        raise SystemExit(msg)
    res = json.loads(line[-1][7:])
    res["process_seconds"] = time.perf_counter() - started
    return res


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=24)  # 24 x 8 = 192 examples: "a few hundred"
    p.add_argument("--micro", type=int, default=4)
    p.add_argument("--accum", type=int, default=2)
    p.add_argument("--cutoff", type=int, default=512)
    p.add_argument("--worker", choices=VARIANTS)
    p.add_argument("--variants", default="plain,tiaocan,tiaocan-bf16", help="comma-separated, from: " + ",".join(VARIANTS))
    p.add_argument("--data", help="(worker) the data file")
    p.add_argument("--data-file", help="use this jsonl instead of building the support + FAQ mix")
    p.add_argument("--model-dir", help="model folder (default: the embedded smollm2-135m)")
    p.add_argument("--shape", help="instead: random weights in this built-in shape (e.g. qwen2.5-1.5b), SmolLM2's "
                                   "tokenizer and vocabulary (a GPU-size model without downloading one)")
    p.add_argument("--tokenizer", help="with --shape: take the tokenizer from this folder instead of the embedded "
                                       "SmolLM2 (so a GPU machine needs no model weights carried in)")
    p.add_argument("--json", help="also write the results here")
    p.add_argument("--profile", metavar="DIR", help="profile every side (bench/step_profiler.py); summaries go to DIR")
    p.add_argument("--profile-warmup", type=int, default=3, help="steps before the profiled window")
    p.add_argument("--profile-steps", type=int, default=3, help="steps in the profiled window")
    p.add_argument("--profile-trace", metavar="SIDES", help="comma-separated sides that also write a Chrome trace")
    p.add_argument("--side-timeout", type=int, help="seconds per side; one that runs over is killed and the rest go on")
    p.add_argument("--budget", type=int, help="seconds for everything: each side gets at most what is left, and a side "
                                              "is skipped when under 20 s are left")
    a = p.parse_args()
    if a.worker:
        bf16 = "-bf16" in a.worker
        res = worker_plain(a, bf16) if a.worker.startswith("plain") else \
            worker_tiaocan(a, bf16, "-grouped" not in a.worker, "-fulllogits" not in a.worker, "-unfixed" not in a.worker)
        res["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        import torch

        res["peak_gpu_mb"] = torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else 0.0
        print("RESULT " + json.dumps(res))
        return

    from tiaocan.models import resolve_model

    a.model_dir = a.model_dir or (a.tokenizer if a.shape and a.tokenizer else resolve_model("smollm2-135m"))
    n = a.steps * a.micro * a.accum
    tmp = Path(tempfile.mkdtemp(prefix="tiaocan_bench_"))
    if a.shape:
        a.model_dir = random_model_dir(a.shape, a.model_dir, tmp / a.shape)
    data = tmp / "mixed.jsonl"
    if a.data_file:
        rows = Path(a.data_file).read_text(encoding="utf-8").splitlines()[:n]
        data.write_text("\n".join(rows) + "\n", encoding="utf-8")
    else:
        build_data(n, data)
    a.data = str(data)
    _, ds = rendered(a.model_dir, data, a.cutoff)
    lengths = [len(x) for x in ds["input_ids"]]
    useful = sum(lengths)
    print(f"{a.shape or 'SmolLM2-135M'} LoRA r8, {n} examples ({a.data_file or 'support + Python FAQ'}), "
          f"tokens/example min {min(lengths)} "
          f"mean {useful / len(lengths):.0f} max {max(lengths)}, micro {a.micro} x accum {a.accum}, {a.steps} steps")
    import torch

    print(f"device: {torch.cuda.get_device_name() if torch.cuda.is_available() else 'CPU'}")
    results = {}
    for side in a.variants.split(","):
        timeout = a.side_timeout
        if a.budget:
            left = a.budget - (time.perf_counter() - T0)
            if left < 20:
                print(f"  {side:13s} skipped: {left:.0f} s of --budget left")
                continue
            timeout = min(timeout or left, left)
        r = run_side(side, a, timeout)
        if r is None:
            continue
        r["useful_tokens_per_s"] = useful / r["seconds"]
        r["useful_tokens_per_cpu_s"] = useful / r["cpu_seconds"]
        results[side] = r
        print(f"  {side:13s} {r['steps']} steps  {r['seconds']:7.1f} s  {r['useful_tokens_per_s']:7.1f} useful tok/s  "
              f"({r['useful_tokens_per_cpu_s']:6.1f} per CPU-s)  "
              f"peak RSS {r['peak_rss_mb']:6.0f} MB" + (f"  peak GPU {r['peak_gpu_mb']:6.0f} MB" if r["peak_gpu_mb"] else "")
              + f"  mean train loss {r['loss']:.3f}  median step {1000 * r['median_step_s']:.0f} ms  "
                f"setup {r['setup_seconds']:.1f} s of {r['process_seconds']:.1f} s")
    if a.json:
        Path(a.json).write_text(json.dumps(dict(shape=a.shape or "smollm2-135m", examples=n, useful_tokens=useful,
                                                micro=a.micro, accum=a.accum, steps=a.steps, cutoff=a.cutoff,
                                                results=results), indent=1))
    ref = "plain" if "plain" in results else next(iter(results), None)
    if ref is None:
        return
    base = results[ref]["useful_tokens_per_s"]
    for side in results:
        if side != ref:
            cpu = results[side]["useful_tokens_per_cpu_s"] / results[ref]["useful_tokens_per_cpu_s"]
            print(f"  ratio {side} / {ref}: {results[side]['useful_tokens_per_s'] / base:.2f}x wall, {cpu:.2f}x per CPU-second")


if __name__ == "__main__":
    main()
