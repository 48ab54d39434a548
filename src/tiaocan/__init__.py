"""tiaocan (调参): take the guesswork out of LLM fine-tuning hyperparameters.

Every CLI command is also a function here; results are pydantic models that serialise to the JSON
`--json` writes.
"""
from __future__ import annotations

__version__ = "0.1.0"

from .config import TrainConfig, load_config  # noqa: E402
from .errors import DataError, UserError  # noqa: E402


def inspect(*args, **kwargs):
    """Token-length statistics, cutoff_len advice and data problems for a dataset (see data.inspect)."""
    from .data.inspect import inspect_data

    return inspect_data(*args, **kwargs)


def train(*args, **kwargs):
    """Train one configuration; returns a RunSummary (see train.run.train). Importing the subpackage
    tiaocan.train replaces this name with the (callable) module, so both spellings keep working."""
    from .train import train as _train

    return _train(*args, **kwargs)


def evaluate(*args, **kwargs):
    """Evaluate a run/model on a test set: loss, fact checks, per-topic failures, data advice (an EvalReport;
    see evaluate.run.evaluate). Importing the subpackage tiaocan.evaluate replaces this name with the
    (callable) module, so both spellings keep working."""
    from .evaluate import evaluate as _evaluate

    return _evaluate(*args, **kwargs)


def plan(*args, **kwargs):
    """Plan a run for a model, data and GPU: every value with its reason, memory, steps (see plan.advisor.make_plan).
    Importing the subpackage tiaocan.plan replaces this name with the (callable) module; both spellings work."""
    from .plan import make_plan

    return make_plan(*args, **kwargs)


def explain(*args, **kwargs):
    """What a training parameter means, in English or Chinese (see explain.explain); callable module too."""
    from .explain import explain as _explain

    return _explain(*args, **kwargs)


def export(*args, **kwargs):
    """Write a plan / TrainConfig as LLaMA-Factory, Axolotl or HF configs (see export.export_config)."""
    from .export import export_config

    return export_config(*args, **kwargs)


def tune(*args, **kwargs):
    """Budgeted hyperparameter search seeded by the plan; returns a TuneResult (see tune.study.tune).
    Importing the subpackage tiaocan.tune replaces this name with the (callable) module; both spellings work."""
    from .tune import tune as _tune

    return _tune(*args, **kwargs)


def diagnose(*args, **kwargs):
    """Read runs (tiaocan / LLaMA-Factory / HF logs) and report what went wrong and what to change: a Diagnosis
    (see diagnose.core.diagnose). Importing the subpackage tiaocan.diagnose replaces this name with the
    (callable) module; both spellings work."""
    from .diagnose import diagnose as _diagnose

    return _diagnose(*args, **kwargs)


__all__ = ["__version__", "TrainConfig", "load_config", "UserError", "DataError", "inspect", "train", "evaluate",
           "plan", "explain", "export", "tune", "diagnose"]
