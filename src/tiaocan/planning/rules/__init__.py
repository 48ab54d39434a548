"""Advisor rules: one module per decision, registered in the order they run (later rules read earlier values).

A rule reads the context (model shape, data facts, GPU, method, user overrides, values decided so far) and
returns Recs (value + reason + source). A value the user set with --set is kept; the rule still derives the
values that depend on it (accumulation from a fixed micro batch, lr from a changed effective batch).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from ...errors import UserError
from ..facts import DataFacts
from ..hardware import GPU
from ..result import Rec
from ..shapes import ModelShape

Rule = Callable[["Ctx"], list[Rec]]
RULES: dict[str, Rule] = {}
# Run order: each rule may read the values decided by the rules before it.
ORDER = ("precision", "cutoff_len", "lora", "eval_split", "epochs", "batch", "loraplus", "learning_rate", "schedule")


def register(name: str) -> Callable[[Rule], Rule]:
    if name not in ORDER:
        raise ValueError(f"rule {name!r} must be placed in rules.ORDER")

    def deco(fn: Rule) -> Rule:
        RULES[name] = fn
        return fn
    return deco


@dataclass
class Ctx:
    shape: ModelShape
    data: DataFacts
    gpu: GPU | None
    method: str
    user: dict[str, Any] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)
    lang: str = "en"
    notes: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)  # non-config results (fit, steps) for later rules

    @property
    def devices(self) -> int:
        return self.gpu.count if self.gpu else 1

    @property
    def train_examples(self) -> int:
        """Examples left for training after the held-out split (val_size: a share < 1 or a count)."""
        from ...derive import train_examples

        return train_examples(self.data.num_examples, float(self.values.get("val_size", 0) or 0))

    @property
    def is_lora(self) -> bool:
        return self.method in ("lora", "qlora")

    def text(self, param: str, reason_key: str, /, **kw: Any) -> str:
        from ...explanation import reason

        return reason(param, reason_key, self.lang, **kw)

    def rec(self, key: str, value: Any, reason_key: str, source: str, /, **kw: Any) -> Rec:
        """A derived value, unless the user set it: then keep theirs and say so."""
        if key in self.user:
            value = self.user[key]
            self.values[key] = value
            return Rec(key=key, value=value, reason=self.text("common", "user_set", key=key, value=value),
                       source="--set", overridden=True)
        self.values[key] = value
        return Rec(key=key, value=value, reason=self.text(key, reason_key, **kw), source=source)

    def conflict(self, msg: str) -> UserError:
        return UserError(msg)


def all_rules() -> list[tuple[str, Rule]]:
    from . import batch, cutoff, epochs, eval_split, learning_rate, lora, loraplus, precision, schedule  # noqa: F401

    return [(name, RULES[name]) for name in ORDER]
