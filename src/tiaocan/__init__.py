"""tiaocan (调参): take the guesswork out of LLM fine-tuning hyperparameters.

Every CLI command is also a plain function here; results are pydantic models that serialise to the JSON
`--json` writes. The code behind each lives in a package named for the stage (training, planning, tuning,
diagnosis, evaluation, explanation, exporting) so that importing it never shadows these functions. They import
their stage on first call: `import tiaocan` stays light (no torch) for the CLI's help and for config tools.
"""
from __future__ import annotations

__version__ = "0.1.0"

from .config import TrainConfig, load_config  # noqa: E402
from .errors import DataError, UserError  # noqa: E402


def inspect(*args, **kwargs):
    """Token-length statistics, cutoff_len advice and data problems for a dataset (see data.inspect.inspect_data)."""
    from .data.inspect import inspect_data

    return inspect_data(*args, **kwargs)


def train(*args, **kwargs):
    """Train one configuration; returns a RunSummary (see training.run.train)."""
    from .training import train as _train

    return _train(*args, **kwargs)


def evaluate(*args, **kwargs):
    """Evaluate a run/model on a test set: loss, fact checks, per-topic failures, data advice (an EvalReport;
    see evaluation.run.evaluate)."""
    from .evaluation import evaluate as _evaluate

    return _evaluate(*args, **kwargs)


def plan(*args, **kwargs):
    """Plan a run for a model, data and GPU: every value with its reason, memory, steps (see planning.advisor.make_plan);
    `probe=0.15` also measures the learning rate and batch on the data (see probe_plan)."""
    from .planning import make_plan

    return make_plan(*args, **kwargs)


def probe_plan(*args, **kwargs):
    """Measure a Plan's learning rate and gradient noise scale on its own data and this machine, within a share of the
    full run's compute (`plan(..., probe=0.15)` does it in one call; see probing.core.probe_plan)."""
    from .probing import probe_plan as _probe_plan

    return _probe_plan(*args, **kwargs)


def explain(*args, **kwargs):
    """What a training parameter means, in English or Chinese (see explanation.explain)."""
    from .explanation import explain as _explain

    return _explain(*args, **kwargs)


def export(*args, **kwargs):
    """Write a plan / TrainConfig as LLaMA-Factory, Axolotl or HF configs (see exporting.export_config)."""
    from .exporting import export_config

    return export_config(*args, **kwargs)


def tune(*args, **kwargs):
    """Budgeted hyperparameter search seeded by the plan; returns a TuneResult (see tuning.study.tune)."""
    from .tuning import tune as _tune

    return _tune(*args, **kwargs)


def diagnose(*args, **kwargs):
    """Read runs (tiaocan / LLaMA-Factory / HF logs) and report what went wrong and what to change: a Diagnosis
    (see diagnosis.core.diagnose)."""
    from .diagnosis import diagnose as _diagnose

    return _diagnose(*args, **kwargs)


__all__ = ["__version__", "TrainConfig", "load_config", "UserError", "DataError", "inspect", "train", "evaluate",
           "plan", "probe_plan", "explain", "export", "tune", "diagnose"]
