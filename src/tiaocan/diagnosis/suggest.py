"""Merge the findings' changes into one next config, in the run's own key names.

When two findings touch the same key the more severe wins; on equal severity the earlier one in the registry
(causes before symptoms). Keys the run did not have are added, so the YAML is ready for `tiaocan train -c`
or LLaMA-Factory.
"""
from __future__ import annotations

from typing import Any

import yaml

from .types import SEVERITY_RANK, Change, Finding


def merge_changes(findings: list[Finding]) -> list[Change]:
    chosen: dict[str, Change] = {}
    for f in sorted(findings, key=lambda f: SEVERITY_RANK[f.severity]):  # stable: registry order kept
        for c in f.changes:
            if c.key not in chosen:
                chosen[c.key] = c.model_copy(update={"why": f"{f.id}: {c.why}" if c.why else f.id})
    return list(chosen.values())


def suggest_config(config: dict[str, Any], findings: list[Finding]) -> tuple[dict[str, Any], list[Change]]:
    changes = merge_changes(findings)
    keys = {c.key for c in changes}
    max_steps = config.get("max_steps")
    if "num_train_epochs" in keys and "max_steps" not in keys and isinstance(max_steps, int) and max_steps > 0:
        # a set max_steps overrides num_train_epochs in the Trainer: the new epoch count would never take effect
        changes.append(Change(key="max_steps", old=max_steps, new=-1,
                              why="max_steps caps the run before the new num_train_epochs"))
    old_dir = config.get("output_dir")
    if changes and isinstance(old_dir, str) and old_dir and "output_dir" not in keys:
        # run as is, the next config must not collide with (or --overwrite) the run it was derived from
        changes.append(Change(key="output_dir", old=old_dir, new=next_output_dir(old_dir),
                              why="a new run directory, so the diagnosed run stays for comparison"))
    out = dict(config)
    for c in changes:
        out[c.key] = c.new
    return out, changes


def next_output_dir(path: str) -> str:
    """runs/demo/run → runs/demo/run-2 → runs/demo/run-3 (a trailing -N is counted up)."""
    import re

    stripped = path.rstrip("/\\")
    m = re.fullmatch(r"(.*)-(\d+)", stripped)
    return f"{m.group(1)}-{int(m.group(2)) + 1}" if m else f"{stripped}-2"


def compact(config: dict[str, Any], changes: list[Change], source: str) -> dict[str, Any]:
    """For display: a tiaocan config without the keys that equal TrainConfig's defaults (the changed keys stay).
    LLaMA-Factory / HF configs are shown whole: their defaults differ from ours, so dropping keys would change them."""
    if source != "tiaocan":
        return config
    from ..config import TrainConfig

    fields, changed = TrainConfig.model_fields, {c.key for c in changes}
    out = {}
    for k, v in config.items():
        f = fields.get(k)
        default = None if f is None else f.get_default(call_default_factory=True)
        if k in changed or f is None or not (v == default or (isinstance(default, tuple) and list(default) == v)):
            out[k] = v
    return out


def show(v: Any) -> str:
    """A change's value for people: 2e-4 rather than 0.0002, 3 rather than 3.0, '-' for unset."""
    from .signals import fmt

    if v is None:
        return "-"
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() and abs(v) >= 1 else fmt(v)
    return str(v)


def change_line(c: Change) -> str:
    return f"{c.key}: {show(c.old)} → {show(c.new)}"


def to_yaml(config: dict[str, Any], changes: list[Change]) -> str:
    """YAML with a comment on each changed line saying what it was and why."""
    why = {c.key: c for c in changes}
    lines = []
    for line in yaml.safe_dump(config, sort_keys=False, allow_unicode=True).splitlines():
        key = line.split(":", 1)[0] if line and not line.startswith((" ", "-")) else None
        if key in why:
            c = why[key]
            line += f"  # was {show(c.old)}: {c.why}" if c.old is not None else f"  # new: {c.why}"
        lines.append(line)
    return "\n".join(lines) + "\n"
