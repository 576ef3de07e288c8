"""Console numbers are consistent (issue 8 §4): prices with 4 decimals everywhere, money with
$, percentages with enough decimals that a comparison never reads false, counts in grammar."""
from __future__ import annotations

from decimal import Decimal as D

import pytest

from models.money import fmt_pct, fmt_price, fmt_usd, plural


@pytest.mark.parametrize("value, text", [(D("0.39"), "0.3900"), (D("0.346667"), "0.3467"), (D("1"), "1.0000"),
                                         (None, "-")])
def test_prices_have_four_decimals(value, text):
    assert fmt_price(value) == text


@pytest.mark.parametrize("value, text", [(D("0.21"), "$0.21"), (D("5.07"), "$5.07"), (D("-0.4"), "-$0.40"),
                                         (D("0"), "$0.00")])
def test_money_has_a_dollar_sign(value, text):
    assert fmt_usd(value) == text


@pytest.mark.parametrize("value, against, text", [
    (D("1.96"), D("2"), "1.96%"),
    (D("1.996"), D("2"), "1.996%"),           # never "2.00% < 2%"
    (D("1.9999"), D("2"), "1.9999%"),
    (D("2"), D("2"), "2.00%"),
    (D("-10.04"), D("-10"), "-10.04%"),
    (D("14.996"), D("15"), "14.996%"),
    (D("4.7"), None, "4.70%"),
])
def test_percentages_never_misstate_their_comparison(value, against, text):
    assert fmt_pct(value, against) == text


def test_counts_are_in_grammar():
    assert (plural(1, "contract"), plural(2, "contract"), plural(0, "walk")) == ("1 contract", "2 contracts", "0 walks")


# --- the console of a whole paper run ------------------------------------------------------------

import operator  # noqa: E402
import re  # noqa: E402

OPS = {"<": operator.lt, "<=": operator.le, ">=": operator.ge, ">": operator.gt}


@pytest.fixture(scope="module")
def console(tmp_path_factory):  # type: ignore[no-untyped-def]
    from adapters.cli import app
    from adapters.audit.log import read_audit

    folder = tmp_path_factory.mktemp("console")
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("DATABASE_URL", raising=False)
        assert app.main(["paper", "--seed", "2", "--sports", "nba", "nfl", "nhl", "--db", str(folder / "s.db"),
                         "--audit", str(folder / "s.jsonl")]) == 0
    return [e["message"] for e in read_audit(folder / "s.jsonl")]


def test_every_price_on_the_console_has_four_decimals(console):
    odd = [m for m in console for n in re.findall(r"(?<![$\d.])[01]\.\d+(?![\d%c])(?! min)", m)
           if len(n.split(".")[1]) != 4]
    assert odd == []


def test_money_on_the_console_has_a_dollar_sign(console):
    assert [m for m in console if re.search(r"\bfee \d|cost \d|paid \d", m)] == []


def test_counts_on_the_console_are_in_grammar(console):
    assert [m for m in console if re.search(r"\b1 (contracts|walks|attempts|orders)\b", m)] == []


def test_every_comparison_on_the_console_reads_true(console):
    checked = 0
    for m in console:
        for value, op, threshold in re.findall(r"(-?\d+(?:\.\d+)?)% (<=|>=|<|>) (-?\d+(?:\.\d+)?)%", m):
            checked += 1
            assert OPS[op](D(value), D(threshold)), m
    assert checked > 20
