"""Answer checks on hand-made (expected, got) pairs, English and Chinese."""
import pytest

from tiaocan.errors import DataError
from tiaocan.evaluation.checks import (check_answer, chrf, exact_match, fact_found, keyword_coverage, normalise,
                                     rouge_l, tokens)


def test_normalise_full_width_dashes_case():
    assert normalise("  ＡＢＣ　9：00–21：00 ￥68 ") == "abc 9:00-21:00 ¥68"


@pytest.mark.parametrize("expected,got,same", [
    ("Yes, we ship to Hong Kong.", "yes, we ship to hong kong", True),
    ("有的，可以。", "有的，可以", True),
    ("Shipping is free over ¥99.", "Shipping is free over ¥90.", False),
])
def test_exact_match(expected, got, same):
    assert exact_match(expected, got) is same


@pytest.mark.parametrize("fact,got,found", [
    ("27 Harbour Road", "We are at 27 harbour  road, Eastbay.", True),
    ("400-615-2288", "Call 400–615–2288 any day.", True),           # en dash written by the model
    ("¥8", "Delivery costs ¥89.", False),                           # digits must not continue the number
    ("8元", "运费18元。", False),
    ("8元", "运费8元。", True),
    ("海港路27号", "旗舰店位于东湾市海港路27号。", True),
    ("海港路27号", "旗舰店位于海港路72号。", False),
    ("re:400[- ]?615[- ]?2288", "dial 400 615 2288", True),
    ("re:\\b7\\s*days?\\b", "within 17 days", False),
])
def test_fact_found(fact, got, found):
    assert fact_found(fact, got) is found


def test_bad_regex_is_a_data_error():
    with pytest.raises(DataError, match="not a valid regular expression"):
        fact_found("re:([", "x")


def test_tokens_split_cjk_per_character():
    assert tokens("我们在Harbour Road 27号") == ["我", "们", "在", "harbour", "road", "27", "号"]


def test_rouge_l_and_chrf_rank_a_close_chinese_answer_above_a_wrong_one():
    ref = "未拆封的茶叶在签收后7天内可以退货，全额退款。"
    close, wrong = "未拆封的茶叶签收后7天内可以退货。", "我们的营业时间是周一至周六。"
    assert rouge_l(ref, close) > 0.7 > rouge_l(ref, wrong)
    assert chrf(ref, close) > chrf(ref, wrong)
    assert rouge_l(ref, ref) == pytest.approx(1.0) and chrf(ref, ref) == pytest.approx(1.0)


def test_keyword_coverage_ignores_stop_words():
    ref = "Refunds go back to your original payment method within 3 business days."
    assert keyword_coverage(ref, "Refund to the original payment method in 3 business days") > 0.6
    assert keyword_coverage(ref, "We are open on Sundays") == 0.0


def test_check_answer_facts_decide_pass():
    ok = check_answer("Our flagship store is at 27 Harbour Road.", "You can find us at 27 Harbour Road!", ["27 Harbour Road"])
    assert ok.passed and ok.facts_found == 1 and not ok.exact_match
    bad = check_answer("电话是400-615-2288。", "电话是400-615-2289。", ["400-615-2288"])
    assert bad.passed is False and bad.missing_facts == ["400-615-2288"]
    assert "must_contain" in bad.failed_checks[0]


def test_check_answer_without_facts_uses_similarity_and_without_reference_is_unjudged():
    assert check_answer("We open at nine.", "We open at nine.").passed is True
    low = check_answer("We open at nine in the morning.", "Bananas are yellow.", min_similarity=0.5)
    assert low.passed is False and low.failed_checks[0].startswith("similarity")
    unjudged = check_answer(None, "anything")
    assert unjudged.passed is None and unjudged.chrf is None
    only_facts = check_answer(None, "call 400-615-2288", ["400-615-2288"])
    assert only_facts.passed is True


def test_empty_answer_fails():
    r = check_answer("Yes.", "", ["yes"])
    assert r.passed is False and r.failed_checks[0] == "empty answer"
