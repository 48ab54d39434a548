"""inspect vs the naive script users write today (tokenize one example at a time), in one command.

    .venv/bin/python bench/inspect_speed.py [--n 100000] [--model smollm2-135m]

Generates N alpaca-style examples (mixed lengths, en + zh), then runs, each in its own subprocess so
peak RSS is its own: (1) the naive loop: apply_chat_template(tokenize=True) for prompt and full
sequence, example by example; (2) `tiaocan.inspect`; (3) `tiaocan.inspect` on N/4 examples to show how
peak memory grows with the data. Prints wall time, CPU time (workers included), examples/s, peak RSS and
the ratios.
"""
from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WORDS = ("order ship return price tea shop hours refund card member gift box store open close week day "
         "please help thanks question answer address phone delivery parcel").split()
ZH = "订单发货退货价格茶叶商店营业时间退款会员礼盒地址电话配送包裹请问谢谢"


def make_data(path: Path, n: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as f:
        for i in range(n):
            zh = rng.random() < 0.3
            k_in, k_out = int(rng.lognormvariate(2.5, 0.8)) + 3, int(rng.lognormvariate(3.2, 0.9)) + 3
            if zh:
                ins = "".join(rng.choice(ZH) for _ in range(k_in))
                out = "".join(rng.choice(ZH) for _ in range(k_out))
            else:
                ins = " ".join(rng.choice(WORDS) for _ in range(k_in))
                out = " ".join(rng.choice(WORDS) for _ in range(k_out))
            f.write(json.dumps({"instruction": ins, "input": "", "output": out}, ensure_ascii=False) + "\n")


NAIVE = r'''
import json, sys, time, resource
import numpy as np
from tiaocan.models import load_tokenizer
path, model = sys.argv[1], sys.argv[2]
tok = load_tokenizer(model)
t, c = time.perf_counter(), time.process_time()
rows = [json.loads(l) for l in open(path, encoding="utf-8")]
full, prompt = [], []
for r in rows:
    msgs = [{"role": "user", "content": r["instruction"] + ("\n" + r["input"] if r["input"] else "")},
            {"role": "assistant", "content": r["output"]}]
    p = tok.apply_chat_template(msgs[:1], tokenize=True, add_generation_prompt=True)
    f = tok.apply_chat_template(msgs, tokenize=True)
    p = p["input_ids"] if hasattr(p, "keys") else p
    f = f["input_ids"] if hasattr(f, "keys") else f
    full.append(len(f)); prompt.append(len(p))
p99 = float(np.percentile(full, 99))
print(json.dumps({"wall_s": time.perf_counter() - t, "cpu_s": time.process_time() - c, "p99": p99,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
'''

TIAOCAN = r'''
import json, sys, time, resource
from tiaocan.models import load_tokenizer
from tiaocan.data.inspect import inspect_data
path, model = sys.argv[1], sys.argv[2]
load_tokenizer(model)
t, c = time.perf_counter(), time.process_time()
rep = inspect_data(path, model=model)
kids = resource.getrusage(resource.RUSAGE_CHILDREN)  # datasets.map's worker processes
print(json.dumps({"wall_s": time.perf_counter() - t, "cpu_s": time.process_time() - c + kids.ru_utime + kids.ru_stime,
                  "p99": rep.full.p99, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
'''


def run(code: str, path: Path, model: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code, str(path), model], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--model", default="smollm2-135m")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        big, small = Path(d) / "big.jsonl", Path(d) / "small.jsonl"
        make_data(big, args.n)
        make_data(small, args.n // 4)
        naive = run(NAIVE, big, args.model)
        ours = run(TIAOCAN, big, args.model)
        ours_small = run(TIAOCAN, small, args.model)
    n = args.n
    print(f"{'':28}{'wall s':>9}{'CPU s':>9}{'examples/s':>12}{'peak RSS MB':>13}{'p99 tokens':>12}")
    for name, r, k in (("naive loop", naive, n), ("tiaocan inspect", ours, n), (f"tiaocan inspect (N/4)", ours_small, n // 4)):
        print(f"{name:28}{r['wall_s']:9.1f}{r['cpu_s']:9.1f}{k / r['wall_s']:12.0f}{r['rss_mb']:13.0f}{r['p99']:12.0f}")
    print(f"speed-up (naive / tiaocan wall time, N={n}): {naive['wall_s'] / ours['wall_s']:.1f}x"
          f"  (CPU time: {naive['cpu_s'] / ours['cpu_s']:.1f}x; the wall-time ratio needs the 2 cores otherwise idle)")
    print(f"peak RSS growth, 4x the data: {ours['rss_mb'] / ours_small['rss_mb']:.2f}x")


if __name__ == "__main__":
    main()
