"""Chinese evidence lines (`diagnose --lang zh`, the report): the findings write their evidence from fixed English
templates with numbers in them; the rules in explanation/zh.yaml (`evidence_rules`, with the other translations)
turn each template into Chinese, keeping the numbers exactly.

One table instead of a second f-string in every finding: a template changed in a finding without a change there
stays English (never wrong) and `tests/diagnose/test_zh.py` fails, naming the line.
"""
from __future__ import annotations

import re

from ..explanation import evidence_rules

N = r"(-?[\d.]+(?:e-?\d+)?|nan|inf)"  # a number as fmt() writes it: {N} in a rule
# (pattern, replacement), applied in order to each line; phrase-level so that composed lines translate too.
_COMPILED = [(re.compile(p.replace("{N}", N)), r) for p, r in evidence_rules()]
_ENGLISH = re.compile(r"\b(?!NaN\b|inf\b|fp16\b|grad_norm\b|lr_scheduler_type\b|learning_rate\b|cutoff_len\b|epoch\b|"
                      r"LoRA\b|p99\b|per_device_train_batch_size\b|gradient_accumulation_steps\b|run_summary\b|json\b|"
                      r"true\b|token\b|e\b)[A-Za-z]{2,}")


def to_zh(line: str) -> str:
    out = line
    for pat, rep in _COMPILED:
        out = pat.sub(rep, out)
    return out


def untranslated(line: str) -> list[str]:
    """English words left after translation (for the test that keeps this table complete)."""
    return _ENGLISH.findall(re.sub(r"lr_scheduler_type：\w+", "", to_zh(line)))  # a config value stays as written
