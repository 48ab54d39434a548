"""Evaluate a tuned model on a test set: loss, greedy answers, fact checks, per-topic results, data advice."""
from .checks import check_answer, chrf, exact_match, fact_found, keyword_coverage, normalise, rouge_l
from .results import Advice, CategoryScores, CheckResult, EvalReport, ExampleResult, ModelEval, Scores
from .run import aggregate, evaluate, evaluate_model

__all__ = ["evaluate", "evaluate_model", "aggregate", "check_answer", "exact_match", "fact_found", "chrf", "rouge_l",
           "keyword_coverage", "normalise", "EvalReport", "ModelEval", "ExampleResult", "CheckResult", "Scores",
           "CategoryScores", "Advice"]
