"""`tiaocan plan --probe`: measure the learning rate and the gradient noise scale on the user's own data and hardware
in a small share of a full run's compute, instead of trusting the rules alone (see core.probe_plan).

Light on import (the budget parser runs before any heavy work); the probe itself imports training on first call.
"""
from __future__ import annotations

from typing import Any

from ..errors import UserError

DEFAULT_BUDGET = 0.15  # share of the full run's training tokens; `--probe` without a value
MAX_BUDGET = 0.3  # above this a probe costs too much of what it is meant to save: run `tiaocan tune` instead


def parse_budget(value: Any) -> float:
    """The probe's budget as a share of the full run's training tokens: True / None / '' → the default 0.15;
    a number in (0, 0.3]; anything else is a usage error naming --probe."""
    if value is True or value is None or (isinstance(value, str) and not value.strip()):
        return DEFAULT_BUDGET
    try:
        budget = float(value)
    except (TypeError, ValueError):
        raise UserError(f"--probe {value!r}: give the share of the full run's compute to spend on the probe, a number "
                        f"above 0 and at most {MAX_BUDGET} (e.g. --probe 0.15; --probe alone means "
                        f"{DEFAULT_BUDGET})") from None
    if not 0 < budget <= MAX_BUDGET:
        raise UserError(f"--probe {value}: the budget is a share of one full run's compute and must be above 0 and at "
                        f"most {MAX_BUDGET} (--probe alone means {DEFAULT_BUDGET}); for a bigger search use "
                        "`tiaocan tune --budget 2x`")
    return budget


def probe_plan(*args: Any, **kwargs: Any):
    """Measure a Plan's learning rate (and gradient noise scale) on its data; returns the updated Plan (see
    core.probe_plan)."""
    from .core import probe_plan as _probe_plan

    return _probe_plan(*args, **kwargs)


__all__ = ["DEFAULT_BUDGET", "MAX_BUDGET", "parse_budget", "probe_plan"]
