"""What this machine's CPU can do that decides a setting: native bf16.

Shared by planning (bf16 in a plan for a machine without a GPU) and training (loading a LoRA base in bf16), which
must agree. Measured on 2-core machines: with AMX / AVX512-BF16, CPU bf16 autocast trained 2.27x faster than fp32
(bench/RESULTS.md "train throughput"); on an AVX2-only AMD EPYC, bf16 is emulated and a step took ~10x longer than
fp32 (2 min vs 13 s a step, 2026-11-29).
"""
from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=1)
def has_native_bf16() -> bool:
    """Does this CPU compute bf16 natively (AVX512-BF16 / AMX)? Without it bf16 matmuls are emulated and slow."""
    import torch

    try:
        return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    except AttributeError:  # torch builds without these helpers: read the kernel's CPU flags instead
        try:
            flags = open("/proc/cpuinfo", encoding="ascii", errors="ignore").read()
        except OSError:
            return False
        return "avx512_bf16" in flags or "amx_bf16" in flags
