"""Generation speed of `tiaocan eval`: batched (left padding, KV cache) vs one prompt at a time.

    .venv/bin/python bench/eval_speed.py [--model smollm2-135m] [--n 32] [--batch-size 16] [--threads 2]

Greedy answers for the first N prompts of the bundled support test set, same max_new_tokens for both
ways; prints examples/s for each, the speed-up, and how many answers agree (batched padding changes
float rounding a little, so an answer can differ in rare cases; both are greedy).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--test", default=str(ROOT / "src/tiaocan/examples/support/test.jsonl"))
    ap.add_argument("--n", type=int, default=32, help="prompts to generate")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--max-new-tokens", type=int, default=None, help="default: eval's auto rule")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    args = ap.parse_args()

    import torch

    from tiaocan.data import load_dataset
    from tiaocan.evaluation.generate import auto_max_new_tokens, generate_answers
    from tiaocan.evaluation.run import split_row
    from tiaocan.models import load_model, load_tokenizer

    if args.threads:
        torch.set_num_threads(args.threads)
    tok, model = load_tokenizer(args.model), load_model(args.model)
    ds = load_dataset(args.test)
    rows = [split_row(list(m)) for m in ds["messages"]][: args.n]
    prompts = [p for p, _ in rows]
    max_new = args.max_new_tokens or auto_max_new_tokens(tok, [r for _, r in rows])
    generate_answers(model, tok, prompts[:2], max_new, 2, progress=False)  # warm-up (allocations, kernels)

    batched, t_batched = generate_answers(model, tok, prompts, max_new, args.batch_size, progress=False)
    single, t_single = generate_answers(model, tok, prompts, max_new, 1, progress=False)
    agree = sum(a == b for a, b in zip(batched, single))
    n = len(prompts)
    print(f"model={args.model} n={n} max_new_tokens={max_new} threads={torch.get_num_threads()} "
          f"python={sys.version.split()[0]} torch={torch.__version__}")
    print(f"one at a time : {t_single:7.1f} s  {n / t_single:6.2f} examples/s")
    print(f"batched ({args.batch_size:>3}) : {t_batched:7.1f} s  {n / t_batched:6.2f} examples/s")
    print(f"speed-up      : {t_single / t_batched:.2f}x   identical answers: {agree}/{n}")


if __name__ == "__main__":
    main()
