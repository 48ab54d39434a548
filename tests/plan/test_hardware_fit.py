import pytest

from tiaocan.errors import UserError
from tiaocan.planning.archs import BUILTIN
from tiaocan.planning.fit import SAFETY, fit_batch
from tiaocan.planning.hardware import GIB, parse_gpu
from tiaocan.planning.memory import MemoryInputs, estimate_memory
from tiaocan.planning.shapes import shape_from_config


@pytest.mark.parametrize("text,mem,count,tflops", [
    ("H100-80GB", 80, 1, 989), ("h100", 80, 1, 989), ("NVIDIA H100 80GB HBM3", 80, 1, 989), ("24GB", 24, 1, None),
    ("24", 24, 1, None), ("4090", 24, 1, 165), ("RTX 4090", 24, 1, 165), ("NVIDIA GeForce RTX 4090", 24, 1, 165),
    ("2x4090", 24, 2, 165), ("A100-40GB", 40, 1, 312), ("a100", 80, 1, 312), ("8xH200", 141, 8, 989),
    ("V100-16GB", 16, 1, None), ("48 GiB", 48, 1, None),
])
def test_parse_gpu(text, mem, count, tflops):
    g = parse_gpu(text)
    assert (g.memory_bytes / GIB, g.count, g.bf16_tflops) == (mem, count, tflops)


def test_no_bf16_cards():
    assert parse_gpu("V100").bf16 is False and parse_gpu("t4").bf16 is False and parse_gpu("4090").bf16


@pytest.mark.parametrize("bad", ["foo", "H100-0GB", "0x4090", "5000GB", ""])
def test_parse_gpu_errors_name_the_flag(bad):
    with pytest.raises(UserError, match="--gpu"):
        parse_gpu(bad)


SHAPE = shape_from_config(BUILTIN["qwen2.5-7b"], name="qwen2.5-7b")


def test_fit_keeps_effective_batch_and_respects_margin():
    base = MemoryInputs(method="lora", seq_len=1024)
    for gb in (24, 40, 80):
        fit = fit_batch(SHAPE, base, gb * GIB, effective_batch=32)
        assert fit.fits and fit.micro_batch * fit.accumulation == 32
        assert fit.estimate.total <= SAFETY * gb * GIB
        # the next power of two would not fit (largest micro batch), unless already at the maximum
        if fit.micro_batch < 32:
            bigger = estimate_memory(SHAPE, base.model_copy(update=dict(micro_batch=fit.micro_batch * 2,
                                                                       gradient_checkpointing=fit.gradient_checkpointing)))
            assert bigger.total > SAFETY * gb * GIB
    small, big = fit_batch(SHAPE, base, 24 * GIB, 32), fit_batch(SHAPE, base, 80 * GIB, 32)
    assert small.micro_batch <= big.micro_batch


def test_fit_turns_on_checkpointing_only_when_needed():
    base = MemoryInputs(method="lora", seq_len=2048)
    tight = fit_batch(SHAPE, base, 24 * GIB, 16)
    roomy = fit_batch(SHAPE, base, 141 * GIB, 16)
    assert tight.gradient_checkpointing and not roomy.gradient_checkpointing
    no_gc = estimate_memory(SHAPE, base.model_copy(update=dict(micro_batch=1)))
    assert no_gc.total > SAFETY * 24 * GIB  # it really did not fit without


def test_fit_multi_gpu_splits_per_device():
    fit = fit_batch(SHAPE, MemoryInputs(method="lora", seq_len=512), 80 * GIB, effective_batch=32, devices=4)
    assert fit.micro_batch * fit.accumulation * 4 == 32


def test_nothing_fits_gives_numbers():
    fit = fit_batch(SHAPE, MemoryInputs(method="lora", seq_len=8192), 20 * GIB, 16)
    assert not fit.fits
    text = "\n".join(fit.advice)
    assert "QLoRA" in text and "GiB" in text and "cutoff_len=" in text
    q = estimate_memory(SHAPE, MemoryInputs(method="qlora", seq_len=8192, gradient_checkpointing=True))
    assert f"~{q.total / GIB:.1f} GiB" in text


def test_no_gpu_uses_practitioner_start():
    fit = fit_batch(SHAPE, MemoryInputs(method="lora", seq_len=1024), None, 16)
    assert fit.micro_batch in (1, 2) and fit.micro_batch * fit.accumulation == 16 and fit.budget_bytes is None


def test_nothing_fits_even_without_activations():
    fit = fit_batch(SHAPE, MemoryInputs(method="lora", seq_len=4096), 16 * GIB, 16)
    assert not fit.fits and any("no cutoff_len fits" in a for a in fit.advice)
