"""Batched greedy generation for evaluation: left padding, KV cache, stop at end of turn, progress bar.

Prompts are rendered by `tiaocan.data.prompt_ids` (the same chat template training used), sorted by
length so each batch pads little, generated with `model.generate` (greedy, use_cache) and put back
in the original order.
"""
from __future__ import annotations

import time
from typing import Callable, Optional

from ..data import prompt_ids, template_info
from ..progress import StepProgress

DEFAULT_MAX_NEW_TOKENS = 128


def stop_token_ids(tokenizer, model=None) -> list[int]:
    """eos plus the token that ends an assistant turn in the chat template (e.g. <|im_end|>)."""
    ids: list[int] = []
    candidates = [tokenizer.eos_token_id]
    gen_cfg = getattr(model, "generation_config", None)
    if gen_cfg is not None:
        eos = gen_cfg.eos_token_id
        candidates += eos if isinstance(eos, list) else [eos]
    suffix = template_info(tokenizer).answer_suffix.strip()
    if suffix:
        first = tokenizer(suffix, add_special_tokens=False)["input_ids"][:1]
        # Only a special token is a safe stop: a plain-text suffix token could also occur inside answers.
        if first and first[0] in set(tokenizer.all_special_ids) | set(getattr(tokenizer, "added_tokens_decoder", {})):
            candidates += first
    for c in candidates:
        if isinstance(c, int) and c >= 0 and c not in ids:
            ids.append(c)
    return ids


def auto_max_new_tokens(tokenizer, references: list[Optional[str]], cap: int = 256) -> int:
    """1.5 x the longest reference answer + 16 tokens: room to be right, no minutes spent on rambling."""
    refs = [r for r in references if r]
    if not refs:
        return DEFAULT_MAX_NEW_TOKENS
    longest = max(len(ids) for ids in tokenizer(refs, add_special_tokens=False)["input_ids"])
    return min(cap, int(longest * 1.5) + 16)


def generate_answers(model, tokenizer, prompts: list[list[dict]], max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
                     batch_size: int = 16, progress: bool = True, desc: str = "generating",
                     on_batch: Optional[Callable[[int], None]] = None) -> tuple[list[str], float]:
    """Greedy answers for `prompts` (each a message list ending with the user turn) and the seconds spent."""
    import torch

    encoded = [prompt_ids(msgs, tokenizer) for msgs in prompts]
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]), reverse=True)  # longest first: OOM shows early
    stops = stop_token_ids(tokenizer, model)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else stops[0]
    device = next(model.parameters()).device
    gen_config = _greedy_config(max_new_tokens, stops, pad_id)
    answers: list[str] = [""] * len(encoded)
    was_training = model.training
    model.eval()
    start = time.perf_counter()
    with StepProgress(progress, len(encoded), desc) as advance, torch.inference_mode():
        for b in range(0, len(order), max(1, batch_size)):
            batch = order[b:b + batch_size]
            seqs = [encoded[i] for i in batch]
            width = max(len(s) for s in seqs)
            input_ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
            attention = torch.zeros((len(seqs), width), dtype=torch.long)
            for row, s in enumerate(seqs):  # left padding: every prompt ends where generation starts
                input_ids[row, width - len(s):] = torch.tensor(s, dtype=torch.long)
                attention[row, width - len(s):] = 1
            out = model.generate(input_ids=input_ids.to(device), attention_mask=attention.to(device),
                                 generation_config=gen_config)
            for row, i in enumerate(batch):
                answers[i] = _decode_until_stop(tokenizer, out[row, width:].tolist(), stops)
            advance(len(batch))
            if on_batch:
                on_batch(len(batch))
    if was_training:
        model.train()
    return answers, time.perf_counter() - start


def _greedy_config(max_new_tokens: int, stops: list[int], pad_id: int):
    from transformers import GenerationConfig

    # A fresh config: the model's own may carry sampling settings (temperature, top_p) we do not want.
    return GenerationConfig(max_new_tokens=max_new_tokens, do_sample=False, num_beams=1, use_cache=True,
                            eos_token_id=stops, pad_token_id=pad_id)


def _decode_until_stop(tokenizer, ids: list[int], stops: list[int]) -> str:
    for k, t in enumerate(ids):
        if t in stops:
            ids = ids[:k]
            break
    return tokenizer.decode(ids, skip_special_tokens=True).strip()
