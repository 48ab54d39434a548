"""Per-example answer checks: exact match, must-contain facts, similarity (chrF, ROUGE-L), keyword coverage.

All checks are LLM-free and work for Chinese: text is NFKC-normalised and case-folded, and CJK text is
compared character by character (Chinese has no spaces, so "words" would be whole sentences).
"""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from .results import CheckResult

# Dash variants a model (or a data writer) uses interchangeably in "9:00–21:00", "400-615-2288".
_DASHES = dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\uff0d"), "-")
_CJK = r"\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af"
_TOKEN = re.compile(rf"[{_CJK}]|[^\W{_CJK}]+", re.UNICODE)  # one CJK char, or a run of other word chars
_EDGE_PUNCT = " \t\n.,!?;:。，！？；：、\"'“”‘’()（）[]【】"
REGEX_PREFIX = "re:"
# Function words that carry no fact; keyword coverage ignores them (English only: Chinese uses bigrams).
_STOPWORDS = frozenset("""a an the and or but if of to in on at by for with from as is are was were be been it its
this that these those you your we our us i me my he she they them their there here do does did can could will would
shall should may might have has had not no yes so than then just also very all any each per into out up about over
after before within""".split())


def normalise(text: str) -> str:
    """NFKC (full-width → half-width, ￥ → ¥), case-fold, one kind of dash, single spaces."""
    text = unicodedata.normalize("NFKC", text or "").translate(_DASHES).casefold()
    return re.sub(r"\s+", " ", text).strip()


def exact_match(expected: str, got: str) -> bool:
    """Equal after normalisation, ignoring surrounding punctuation ("Yes." == "yes")."""
    return normalise(expected).strip(_EDGE_PUNCT) == normalise(got).strip(_EDGE_PUNCT)


@lru_cache(maxsize=4096)
def _fact_pattern(fact: str) -> re.Pattern:
    """A fact is a plain string (matched case-insensitively) or `re:PATTERN` (a regular expression).

    A plain fact that starts/ends with a digit must not touch another digit, so "8元" does not count
    as found inside "18元" and "¥8" not inside "¥89".
    """
    if fact.startswith(REGEX_PREFIX):
        return re.compile(unicodedata.normalize("NFKC", fact[len(REGEX_PREFIX):]), re.IGNORECASE)
    norm = normalise(fact)
    body = re.escape(norm).replace(r"\ ", r"\s+")
    left = r"(?<!\d)" if norm[:1].isdigit() else ""
    right = r"(?!\d)" if norm[-1:].isdigit() else ""
    return re.compile(left + body + right)


def fact_found(fact: str, got: str) -> bool:
    try:
        pattern = _fact_pattern(fact)
    except re.error as e:
        from ..errors import DataError
        raise DataError(f"must_contain entry {fact!r} is not a valid regular expression: {e}") from None
    text = unicodedata.normalize("NFKC", got or "") if fact.startswith(REGEX_PREFIX) else normalise(got)
    return pattern.search(text) is not None


def missing_facts(facts: list[str], got: str) -> list[str]:
    return [f for f in facts if not fact_found(f, got)]


def tokens(text: str) -> list[str]:
    """Word tokens for Latin-script text, single characters for CJK."""
    return _TOKEN.findall(normalise(text))


def rouge_l(expected: str, got: str) -> float:
    """ROUGE-L F1 over `tokens` (LCS-based).

    Written here (a dozen lines) because the `rouge-score` package's tokenizer drops every non-ASCII
    character, which scores all Chinese answers 0, and it would pull in nltk for nothing else.
    """
    ref, hyp = tokens(expected), tokens(got)
    if not ref or not hyp:
        return float(ref == hyp)
    prev = [0] * (len(hyp) + 1)
    for r in ref:
        cur = [0]
        for j, h in enumerate(hyp):
            cur.append(prev[j] + 1 if r == h else max(prev[j + 1], cur[j]))
        prev = cur
    lcs = prev[-1]
    if lcs == 0:
        return 0.0
    p, rec = lcs / len(hyp), lcs / len(ref)
    return 2 * p * rec / (p + rec)


@lru_cache(maxsize=1)
def _chrf_metric():
    from sacrebleu.metrics import CHRF

    return CHRF()  # chrF2, character 6-grams: language-agnostic, so Chinese works without segmentation


def chrf(expected: str, got: str) -> float:
    """sentence chrF in [0, 1] (sacrebleu), on normalised text."""
    ref, hyp = normalise(expected), normalise(got)
    if not ref:
        return float(not hyp)
    return _chrf_metric().sentence_score(hyp, [ref]).score / 100.0


def keywords(text: str) -> set[str]:
    """Content keywords: Latin words (no stop words) and numbers; CJK character bigrams."""
    out: set[str] = set()
    for run in re.findall(rf"[{_CJK}]+|[^\W{_CJK}]+", normalise(text)):
        if re.match(rf"[{_CJK}]", run):
            out.update(run[i:i + 2] for i in range(max(1, len(run) - 1)))
        elif run not in _STOPWORDS and (len(run) > 1 or run.isdigit()):
            out.add(run)
    return out


def keyword_coverage(expected: str, got: str) -> float:
    """Share of the reference's keywords that the answer also uses (1.0 when the reference has none)."""
    ref = keywords(expected)
    if not ref:
        return 1.0
    return len(ref & keywords(got)) / len(ref)


def check_answer(expected: str | None, got: str, facts: list[str] | None = None,
                 min_similarity: float = 0.5) -> CheckResult:
    """All checks for one answer. Pass rule: every fact found; with no facts, chrF >= min_similarity.

    `expected` may be None (a test row with no reference answer): then only the facts can be checked,
    and with no facts either the example is generated but not judged (passed=None).
    """
    facts = [f for f in (facts or []) if isinstance(f, str) and f.strip()]
    missing = missing_facts(facts, got)
    result = CheckResult(facts_total=len(facts), facts_found=len(facts) - len(missing), missing_facts=missing)
    failed: list[str] = []
    if missing:
        failed.append("must_contain: missing " + ", ".join(repr(m) for m in missing))
    if expected is not None and expected.strip():
        result.exact_match = exact_match(expected, got)
        result.chrf = round(chrf(expected, got), 4)
        result.rouge_l = round(rouge_l(expected, got), 4)
        result.keyword_coverage = round(keyword_coverage(expected, got), 4)
        if not facts and result.chrf < min_similarity:
            failed.append(f"similarity: chrF {result.chrf:.2f} < {min_similarity:.2f}")
    if not got.strip():
        failed.insert(0, "empty answer")
    judged = bool(facts) or (expected is not None and bool(expected.strip()))
    result.passed = (not failed) if judged else None
    result.failed_checks = failed
    return result
