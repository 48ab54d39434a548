"""DataFacts: the few numbers about a dataset that the advisor reads, so rules are testable without data.

Built from `tiaocan.data.inspect.inspect_data`'s DataReport (read by attribute name, so the report can grow
without breaking the planner) or written by hand in tests.
"""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class DataFacts(BaseModel):
    num_examples: int = Field(ge=1)
    mean_tokens: float = Field(gt=0, description="Mean full (prompt + response) length in tokens.")
    p99_tokens: int = Field(ge=1)
    max_tokens: int = Field(ge=1)
    recommended_cutoff_len: int | None = None
    total_tokens: int | None = None
    total_response_tokens: int | None = None
    mean_response_tokens: float | None = None
    source: str = "given"

    @property
    def response_tokens(self) -> int:
        """Total response tokens (what the loss trains on); estimated as 40 % of all tokens when unknown."""
        if self.total_response_tokens:
            return self.total_response_tokens
        return int(0.4 * (self.total_tokens or self.mean_tokens * self.num_examples))

    def tokens_up_to(self, cutoff_len: int) -> float:
        """Mean tokens per example after truncation at cutoff_len (linear between p99 and max: ~1 % are long)."""
        if cutoff_len >= self.max_tokens:
            return self.mean_tokens
        if cutoff_len >= self.p99_tokens:
            cut_share = 0.01 * (self.max_tokens - cutoff_len) / max(1, self.max_tokens - self.p99_tokens)
            return self.mean_tokens - cut_share * (self.max_tokens - cutoff_len) / 2
        return min(self.mean_tokens, float(cutoff_len))

    @classmethod
    def from_report(cls, report: Any) -> "DataFacts":
        full = getattr(report, "full", None)

        def stat(name: str, default: Any = None) -> Any:
            return getattr(full, name, default) if full is not None else default

        resp = getattr(report, "response", None)
        resp_total = getattr(report, "total_response_tokens", None) or getattr(resp, "total", None)
        return cls(
            num_examples=int(report.num_examples), mean_tokens=float(stat("mean", 1.0) or 1.0),
            p99_tokens=int(stat("p99", 1) or 1), max_tokens=int(stat("max", 1) or 1),
            recommended_cutoff_len=getattr(report, "recommended_cutoff_len", None),
            total_tokens=getattr(report, "total_tokens", None) or stat("total"),
            total_response_tokens=resp_total,
            mean_response_tokens=getattr(resp, "mean", None) if resp is not None else None,
            source=str(getattr(report, "data", None) or "inspect"),
        )
