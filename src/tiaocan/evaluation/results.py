"""Result types of `tiaocan eval`: they are what `--json` writes, and what the tuner reads as an objective."""
from __future__ import annotations

from typing import Optional

from pydantic import BaseModel, Field, computed_field


class CheckResult(BaseModel):
    """Checks of one generated answer against its reference and facts."""

    passed: Optional[bool] = Field(None, description="All checks passed; None when nothing could be judged.")
    exact_match: Optional[bool] = None
    facts_total: int = 0
    facts_found: int = 0
    missing_facts: list[str] = Field(default_factory=list)
    chrf: Optional[float] = Field(None, description="sentence chrF in [0, 1] (sacrebleu).")
    rouge_l: Optional[float] = Field(None, description="ROUGE-L F1 in [0, 1]; CJK compared per character.")
    keyword_coverage: Optional[float] = Field(None, description="Share of reference keywords in the answer.")
    failed_checks: list[str] = Field(default_factory=list, description="Human-readable reasons it failed.")


class ExampleResult(BaseModel):
    index: int = Field(description="Row number in the evaluated test set (0-based; a subset with --max-samples).")
    category: Optional[str] = None
    lang: Optional[str] = None
    prompt: str = Field(description="The last user message.")
    expected: Optional[str] = None
    got: str
    loss: Optional[float] = Field(None, description="Mean token loss on the reference answer.")
    checks: CheckResult


class Scores(BaseModel):
    """Aggregates over a set of examples (the whole test set or one category)."""

    n: int = 0
    n_judged: int = Field(0, description="Examples with a reference answer or facts.")
    passed: int = 0
    pass_rate: Optional[float] = None
    fact_accuracy: Optional[float] = Field(None, description="Facts found / facts asked, over all examples.")
    exact_match: Optional[float] = None
    chrf: Optional[float] = None
    rouge_l: Optional[float] = None
    keyword_coverage: Optional[float] = None


class CategoryScores(BaseModel):
    category: str
    train_examples: Optional[int] = Field(None, description="Rows of this category in the training data.")
    scores: Scores


class ModelEval(BaseModel):
    """Everything measured for one model (the tuned one, or the base model with --base)."""

    model: str
    loss: Optional[float] = Field(None, description="Held-out loss: mean over all reference-answer tokens.")
    perplexity: Optional[float] = None
    loss_examples: int = Field(0, description="Examples that had answer tokens to compute loss on.")
    scores: Scores
    categories: list[CategoryScores] = Field(default_factory=list)
    examples: list[ExampleResult] = Field(default_factory=list)
    seconds_generation: float = 0.0
    examples_per_second: Optional[float] = None


class Advice(BaseModel):
    category: Optional[str] = None
    kind: str = Field(description="add_examples | rare_fact | weak_category | undertrained | no_gain | regression")
    message: str


class EvalReport(BaseModel):
    """Result of `tiaocan eval`."""

    target: str = Field(description="The run dir or model that was evaluated.")
    test_file: str
    n_test: int
    category_column: Optional[str] = None
    tuned: ModelEval
    base: Optional[ModelEval] = Field(None, description="The base model on the same set (--base).")
    advice: list[Advice] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list, description="What could not be measured, and why.")

    @computed_field  # type: ignore[prop-decorator]  (serialised into --json)
    @property
    def gain(self) -> dict[str, Optional[float]]:
        """Tuned minus base for the headline numbers (empty without --base)."""
        if self.base is None:
            return {}
        out: dict[str, Optional[float]] = {}
        for key in ("fact_accuracy", "pass_rate", "chrf", "rouge_l", "exact_match"):
            a, b = getattr(self.tuned.scores, key), getattr(self.base.scores, key)
            out[key] = None if a is None or b is None else round(a - b, 4)
        if self.tuned.loss is not None and self.base.loss is not None:
            out["loss"] = round(self.tuned.loss - self.base.loss, 4)
        return out

    def failures(self) -> list[ExampleResult]:
        return [e for e in self.tuned.examples if e.checks.passed is False]
