"""Findings' titles and explanations come from the catalogue with the other translations (explanation/en.yaml,
zh.yaml `findings`, by finding id): every finding a rule can emit has both languages, every text is used, and the
two languages take the same numbers."""
import ast
import re
import string
from collections import defaultdict
from pathlib import Path

import pytest

from tiaocan.explanation import finding_text, texts

FINDINGS = Path(__file__).resolve().parents[2] / "src" / "tiaocan" / "diagnosis" / "findings"


def _strings(node) -> set[str]:
    """The string constants an argument can take (`"far" if far else "above"` -> both)."""
    return {n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)}


def _uses() -> dict[str, dict]:
    """finding id -> the title / explanation cases its rules ask for and the value names they pass, read from the
    `words(...)` calls in diagnosis/findings/."""
    uses: dict[str, dict] = defaultdict(lambda: {"title": set(), "explanation": set(), "values": set()})
    for path in FINDINGS.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "words"):
                continue
            assert isinstance(node.args[0], ast.Constant), f"{path.name}: a finding id must be written out"
            use = uses[node.args[0].value]
            kw = {k.arg: k.value for k in node.keywords}
            for part in ("title", "explanation"):
                use[part] |= _strings(kw.pop(part)) if part in kw else {None}
            use["values"] |= set(kw)
    return uses


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_finding_has_its_texts_in_both_languages_and_no_text_is_orphaned():
    uses = _uses()
    assert len(uses) >= 14, sorted(uses)
    for lang in ("en", "zh"):
        catalogue = texts(lang)["findings"]
        assert set(catalogue) == set(uses), (lang, set(catalogue) ^ set(uses))
        for fid, use in uses.items():
            for part in ("title", "explanation"):
                entry = catalogue[fid][part]
                cases = set(entry) if isinstance(entry, dict) else {None}
                assert cases == use[part], (lang, fid, part, cases, use[part])
            assert set(catalogue[fid]) == {"title", "explanation"}, (lang, fid)


def test_both_languages_take_the_same_numbers():
    uses = _uses()
    for fid, use in uses.items():
        for part in ("title", "explanation"):
            for case in use[part]:
                en, zh = (_entry(lang, fid, part, case) for lang in ("en", "zh"))
                assert _fields(en) == _fields(zh) and _fields(en) <= use["values"], (fid, part, case)
                assert re.search(r"[\u4e00-\u9fff]", zh) and en != zh, (fid, part, case)


def _entry(lang, fid, part, case):
    entry = texts(lang)["findings"][fid][part]
    return entry[case] if case is not None else entry


def test_a_case_that_does_not_exist_is_named():
    with pytest.raises(KeyError, match="findings.divergence.title.flat"):
        finding_text("divergence", "title", "flat", "zh")
    with pytest.raises(KeyError, match="findings.plateau.title.x"):
        finding_text("plateau", "title", "x", "en")  # plateau has one title: no cases
    assert finding_text("noisy_loss", "title", None, "zh", rel=0.41) == "损失噪声大：每步波动约 ±41%"


def test_finding_modules_hold_no_prose():
    """Titles and explanations live in the catalogue; a module keeps its rule and its evidence numbers."""
    for path in FINDINGS.glob("*.py"):
        src = path.read_text(encoding="utf-8")
        assert not re.search(r"[\u4e00-\u9fff]", src), path.name
        for node in ast.walk(ast.parse(src)):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Finding":
                given = {k.arg for k in node.keywords}
                assert not given & {"id", "title", "title_zh", "explanation", "explanation_zh"}, (path.name, given)
