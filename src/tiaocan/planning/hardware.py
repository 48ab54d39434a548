"""GPU specs: parse what the user typed (--gpu H100-80GB, 24GB, 2x4090, A100) or ask torch.

This is the only module that asks torch about devices. The table holds memory and dense bf16 tensor
TFLOPs (vendor datasheets, without sparsity) for time estimates; a bare "24GB" has no speed, so the plan
then shows memory but no time.
"""
from __future__ import annotations

import re

from pydantic import BaseModel

from ..errors import UserError

GIB = 1024 ** 3

# compact name → (memory GB, dense bf16 TFLOPs or None when the card has no bf16 tensor cores).
# "A100-40GB" / "V100-16GB" reuse the base entry with the memory the user wrote.
GPU_TABLE: dict[str, tuple[float, float | None]] = {
    "h200": (141, 989), "h100": (80, 989), "h100pcie": (80, 756), "h100nvl": (94, 835), "h800": (80, 989),
    "h20": (96, 148), "gh200": (96, 989), "b200": (180, 2250), "a100": (80, 312), "a800": (80, 312),
    "a10g": (24, 70), "a10": (24, 125), "a40": (48, 150), "a6000": (48, 155), "6000ada": (48, 364),
    "l40s": (48, 362), "l40": (48, 181), "l4": (24, 121), "l20": (48, 119), "5090": (32, 209),
    "4090": (24, 165), "4090d": (24, 147), "4080": (16, 97), "4070ti": (12, 80), "3090": (24, 71),
    "3090ti": (24, 80), "3080": (10, 59), "v100": (32, None), "t4": (16, None), "mi300x": (192, 1307),
    "mi250x": (128, 383),
}
_NOISE = ("nvidia", "geforce", "tesla", "rtx", "hbm3e", "hbm3", "hbm2e", "sxm5", "sxm4", "sxm", "amd", "instinct")


class GPU(BaseModel):
    name: str
    memory_bytes: int
    count: int = 1
    bf16_tflops: float | None = None
    bf16: bool = True

    @property
    def memory_gib(self) -> float:
        return self.memory_bytes / GIB


def _memory_bytes(gb: float) -> int:
    # Marketed "80GB"/"24GB" is what CUDA reports in GiB (H100: 81559 MiB, 4090: 24564 MiB), so read it as GiB;
    # the part the driver keeps is in the memory model's CUDA-context term.
    return int(gb * GIB)


def parse_gpu(text: str) -> GPU:
    """'H100-80GB' | '24GB' | '2x4090' | 'A100-40GB' | 'RTX 4090' | 'NVIDIA H100 80GB HBM3' → GPU."""
    raw = text.strip()
    t = raw.lower()
    count = 1
    m = re.match(r"^(\d+)\s*[x×*]\s*(.+)$", t)
    if m:
        count, t = int(m.group(1)), m.group(2).strip()
    if count < 1:
        raise UserError(f"--gpu {raw}: the device count must be at least 1")
    mem = None
    m = re.search(r"(\d+(?:\.\d+)?)\s*(gb|gib|g)\b", t)
    if m:
        mem = float(m.group(1))
        t = (t[: m.start()] + t[m.end():]).strip()
    for word in _NOISE:
        t = t.replace(word, "")
    key = re.sub(r"[^a-z0-9]", "", t)
    if key.isdigit() and key not in GPU_TABLE and mem is None:  # a bare "24" means 24 GB
        mem, key = float(key), ""
    if mem is not None and not 1 <= mem <= 1024:
        raise UserError(f"--gpu {raw}: {mem:g} GB is not a plausible GPU memory size")
    if not key:
        if mem is None:
            raise UserError(f"--gpu {raw}: give a GPU name (H100-80GB, 4090) or its memory (24GB)")
        return GPU(name=f"{mem:g}GB", memory_bytes=_memory_bytes(mem), count=count)
    if key not in GPU_TABLE:
        known = ", ".join(sorted(GPU_TABLE))
        raise UserError(f"--gpu {raw}: unknown GPU '{key}'. Give its memory instead (e.g. --gpu 24GB) "
                        f"or a known name: {known}")
    gb, tflops = GPU_TABLE[key]
    gb = mem if mem is not None else gb
    return GPU(name=f"{key.upper()}-{gb:g}GB", memory_bytes=_memory_bytes(gb), count=count,
               bf16_tflops=tflops, bf16=tflops is not None)


def detect_gpu() -> GPU | None:
    """The local CUDA device(s), or None on a machine without one."""
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        return None
    if not torch.cuda.is_available():
        return None
    props = torch.cuda.get_device_properties(0)
    name = props.name
    try:
        gpu = parse_gpu(name)
        tflops, bf16 = gpu.bf16_tflops, gpu.bf16
    except UserError:
        tflops, bf16 = None, torch.cuda.is_bf16_supported()
    return GPU(name=name, memory_bytes=int(props.total_memory), count=torch.cuda.device_count(),
               bf16_tflops=tflops, bf16=bf16)
