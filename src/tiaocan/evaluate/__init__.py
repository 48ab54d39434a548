"""Evaluate a tuned model on a test set: loss, greedy answers, fact checks, per-topic results, data advice."""
from .checks import check_answer, chrf, exact_match, fact_found, keyword_coverage, normalise, rouge_l
from .results import Advice, CategoryScores, CheckResult, EvalReport, ExampleResult, ModelEval, Scores
from .run import aggregate, evaluate, evaluate_model

__all__ = ["evaluate", "evaluate_model", "aggregate", "check_answer", "exact_match", "fact_found", "chrf", "rouge_l",
           "keyword_coverage", "normalise", "EvalReport", "ModelEval", "ExampleResult", "CheckResult", "Scores",
           "CategoryScores", "Advice"]

import sys as _sys
import types as _types


class _CallableModule(_types.ModuleType):
    """`tiaocan.evaluate` is both this subpackage and the public function: importing the subpackage replaces
    the attribute `tiaocan.evaluate`, so the module itself must be callable for `tiaocan.evaluate(...)` to work."""

    def __call__(self, *args, **kwargs):
        return evaluate(*args, **kwargs)


_sys.modules[__name__].__class__ = _CallableModule
