"""The scenario runner itself: it must fail loudly, and precisely, when the engine and a table
disagree, and refuse a malformed table instead of passing it."""

from __future__ import annotations

import re

import pytest
from scenario_dsl import (
    ScenarioError,
    ScenarioMismatchError,
    parse_time,
    read_header,
    run_scenario_text,
)

from venue.core import VenueState, apply
from venue.domain.commands import SequencedCommand
from venue.domain.events import BalanceChanged, Event, LedgerPosted

BOOK = """\
# FIFO
instrument X
o1: place A sell limit 5 @ 100
o2: place B sell limit 5 @ 100
o3: place C buy limit 7 @ 100
"""


def fails(text: str) -> str:
    with pytest.raises(ScenarioMismatchError) as info:
        run_scenario_text(text, "t.scn")
    return str(info.value)


def test_a_true_table_passes() -> None:
    run_scenario_text(
        BOOK
        + "  trade 100 x 5 maker=o1 taker=o3\n"
        + "  trade 100 x 2 maker=o2 taker=o3 maker_left=3 taker_left=0\n"
        + "  book bids - | asks 100x3/1\n  bbo - / 100\n  live o2\n  last 100\n",
        "t.scn",
    )


def test_a_wrong_trade_names_file_line_and_both_sides() -> None:
    message = fails(
        BOOK + "  trade 100 x 5 maker=o2 taker=o3\n" + "  trade 100 x 2 maker=o1 taker=o3\n"
    )
    assert "t.scn:6: after `o3: place C buy limit 7 @ 100`" in message
    assert re.search(r"expected:\n\s+trade 100 x 5 maker=o2 taker=o3", message)
    assert re.search(r"actual:\n\s+trade 100 x 5 maker=o1 taker=o3", message)


def test_a_missing_event_fails() -> None:
    message = fails(BOOK + "  trade 100 x 5 maker=o1 taker=o3\n")
    assert "trade 100 x 2 maker=o2 taker=o3" in message


def test_an_event_that_did_not_happen_fails() -> None:
    message = fails(
        BOOK
        + "  trade 100 x 5 maker=o1 taker=o3\n"
        + "  trade 100 x 2 maker=o2 taker=o3\n"
        + "  canceled o3 ioc_remainder left=0\n"
    )
    assert "t.scn:8" in message


def test_unlisted_significant_events_fail() -> None:
    # nothing listed under o3 means "no trades": the engine traded
    assert "(none)" in fails(BOOK)


def test_optional_fields_are_checked_when_given() -> None:
    fails(
        BOOK
        + "  trade 100 x 5 maker=o1 taker=o3 taker_left=3\n"
        + "  trade 100 x 2 maker=o2 taker=o3\n"
    )


def test_level_updates_are_checked_only_when_listed_then_exactly() -> None:
    run_scenario_text("instrument X\no1: place A buy limit 1 @ 99\n", "t.scn")
    run_scenario_text("instrument X\no1: place A buy limit 1 @ 99\n  level bid 99 x 1/1\n", "t.scn")
    message = fails("instrument X\no1: place A buy limit 1 @ 99\n  level bid 99 x 2/1\n")
    assert "level bid 99 x 1/1" in message


def test_state_checks_show_expected_and_actual() -> None:
    message = fails("instrument X\no1: place A buy limit 1 @ 99\n  book bids 99x2/1 | asks -\n")
    assert "expected: bids 99x2/1 | asks -" in message
    assert "actual:   bids 99x1/1 | asks -" in message
    assert "t.scn:3" in message
    message = fails("instrument X\no1: place A buy limit 1 @ 99\n  bbo 98 / -\n")
    assert "actual:   99 / -" in message
    message = fails("instrument X\no1: place A buy limit 1 @ 99\n  live -\n")
    assert "actual:   o1" in message


def test_a_reject_must_be_listed_with_its_reason() -> None:
    text = "instrument X\no1: place A buy limit 0 @ 99\n"
    assert "reject invalid_quantity" in fails(text)
    assert "reject invalid_quantity" in fails(text + "  reject invalid_price\n")
    run_scenario_text(text + "  reject invalid_quantity\n", "t.scn")


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("instrument X\nfrobnicate\n", "unknown command"),
        ("instrument X\ncancel A o9\n", "unknown order label"),
        ("  trade 1 x 1 maker=a taker=b\ninstrument X\n", "needs a command"),
        ("instrument X\nat 5s\n  live -\n", "needs a command"),
        ("instrument X\nat 5s\nat 4s\n", "backwards"),
        ("instrument X\no1: place A buy limit 1 @ 99\n  trade 1 x 1\n", "usage"),
        ("instrument X\no1: place A buy limit 1 @ 99\n  reject no_such_reason\n", "reject REASON"),
        ("instrument X\no1: place A buy limit 1 @ 99 tif=forever\n", "tif=forever"),
        ("instrument X\no1: place A buy limit 1 @ 99\no1: place A buy limit 1 @ 98\n", "twice"),
        ("instrument X\no1: place A buy limit 1 @ 99\n  wibble\n", "unknown expectation"),
        ("instrument X tick=0.001 lot=0.001\n", "bad instrument"),
        ("place A buy limit 1 @ 99\n", "declare an instrument"),
    ],
)
def test_a_malformed_table_is_refused(text: str, complaint: str) -> None:
    with pytest.raises(ScenarioError, match=re.escape(complaint)):
        run_scenario_text(text, "t.scn")


def test_times_read_with_units() -> None:
    assert parse_time("1500", "t") == 1500
    assert parse_time("2s", "t") == 2_000_000_000
    assert parse_time("500ms", "t") == 500_000_000
    assert parse_time("1d+16h", "t") == (24 + 16) * 3_600_000_000_000
    with pytest.raises(ScenarioError):
        parse_time("soon", "t")


def test_header_gives_title_and_xfail() -> None:
    assert read_header("# Title here\n# xfail: engine bug: x\ninstrument X\n") == (
        "Title here",
        "engine bug: x",
    )
    assert read_header("instrument X\n") == ("", None)


# ------------------------------------------------------------------------------ accounts

MONEY = """\
# a trade with money behind it
accounts on
instrument X
account A
account B
deposit A USD 1_000
deposit B X 10
o1: place B sell limit 4 @ 100
o2: place A buy limit 4 @ 100
  trade 100 x 4 maker=o1 taker=o2
"""


def test_an_accounts_table_checks_postings_balances_positions_and_fees() -> None:
    run_scenario_text(
        MONEY
        + "  posting reserve 404 USD A -> A.held\n"
        + "  posting trade 4 X B.held -> A trade=1\n"
        + "  posting trade 400 USD A.held -> B trade=1\n"
        + "  posting fee 1 USD A.held -> fees\n"
        + "  posting fee 1 USD B -> fees trade=1\n"
        + "  posting release 3 USD A.held -> A\n"
        + "  balance A USD available=599 held=0\n"
        + "  balance B USD held=0\n"
        + "  position A X net=4 cost=400 realized=0 fees=1\n"
        + "  position B fees=1\n"
        + "  fees USD 2\n"
        + "  balance fees USD available=2 held=0\n",
        "t.scn",
    )


def test_a_wrong_balance_names_the_account_and_shows_both() -> None:
    message = fails(MONEY + "  balance A USD available=600 held=0\n")
    assert "t.scn:11: after `o2: place A buy limit 4 @ 100`" in message
    assert "balance A USD:\n    expected: available=600 held=0\n" in message
    assert "actual:   available=599 held=0" in message
    assert "(balance A USD available=599 held=0)" in message  # the events list it too


def test_postings_are_checked_exactly_and_in_order_when_listed() -> None:
    message = fails(MONEY + "  posting trade 4 X B.held -> A\n")
    assert re.search(r"posting events \(posting\):\n\s+expected:\n\s+posting trade 4 X", message)
    assert "posting reserve 404 USD A -> A.held" in message
    fails(
        MONEY
        + "  posting trade 4 X B.held -> A\n"
        + "  posting reserve 404 USD A -> A.held\n"
        + "  posting trade 400 USD A.held -> B\n"
        + "  posting fee 1 USD A.held -> fees\n"
        + "  posting fee 1 USD B -> fees\n"
    )


def test_positions_and_fees_show_expected_and_actual() -> None:
    message = fails(MONEY + "  position A net=5\n  fees USD 3\n")
    assert "position A X:\n    expected: net=5\n    actual:   net=4" in message
    assert "fees USD:\n    expected: 3\n    actual:   2" in message


def test_a_kill_switch_change_must_be_listed() -> None:
    text = "# k\naccounts on\ninstrument X\naccount A\nkill A on\n"
    assert "kill_switch A on reason=manual" in fails(text)
    run_scenario_text(text + "  kill_switch A on reason=manual\n", "t.scn")
    run_scenario_text(text + "  kill_switch A on\n", "t.scn")
    assert "kill_switch A on reason=manual" in fails(
        text + "  kill_switch A on reason=daily_loss_limit\n"
    )


def test_a_refused_money_command_must_be_listed() -> None:
    text = "accounts on\ninstrument X\naccount A\nwithdraw A USD 1\n"
    assert "reject insufficient_balance" in fails(text)
    run_scenario_text(text + "  reject insufficient_balance\n", "t.scn")


@pytest.mark.parametrize(
    ("dropped", "complaint"),
    [
        (BalanceChanged, "no BalanceChanged for A USD, which postings moved"),
        (LedgerPosted, "balance A USD is (available, held) = (5, 0), the postings make it (0, 0)"),
    ],
)
def test_money_events_that_disagree_with_the_ledger_fail(
    monkeypatch: pytest.MonkeyPatch, dropped: type, complaint: str
) -> None:
    def forgetful(state: VenueState, command: SequencedCommand) -> list[Event]:
        return [e for e in apply(state, command) if not isinstance(e, dropped)]

    monkeypatch.setattr("scenario_dsl.apply", forgetful)
    message = fails("accounts on\ninstrument X\naccount A\ndeposit A USD 5\n")
    assert "ledger events inconsistent" in message
    assert complaint in message


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("instrument X\naccount A\n", "needs `accounts on`"),
        ("instrument X\no1: place A buy limit 1 @ 9\n  balance A USD held=0\n", "accounts on"),
        ("instrument X\naccounts on\n", "before the first command"),
        ("accounts on\ninstrument X\no1: place A buy limit 1 @ 9\n", "create it first"),
        ("accounts on\ninstrument X\naccount A\naccount A\n", "created twice"),
        ("accounts on\ninstrument X\naccount fees\n", "reserved"),
        ("accounts on\ninstrument X\naccount A\n  balance A USD\n", "at least one figure"),
        ("accounts on\ninstrument X\naccount A\n  balance A USD spare=1\n", "unexpected"),
        ("accounts on\ninstrument X\naccount A\n  posting gift 1 USD A -> A.held\n", "reason"),
        ("accounts on\ninstrument X\naccount A\n  posting fee 1 USD A A.held\n", "usage"),
        ("accounts on\ninstrument X\naccount A\n  posting fee 1 USD A.spare -> fees\n", "NAME"),
        ("accounts on\ninstrument X\naccount A\nkill A maybe\n", "on|off"),
        ("accounts on\ninstrument X\nfee_tier t maker=1\n", "fee_tier TIER"),
        ("accounts on\ninstrument X\nrisk_profile p max_orders=1\n", "unexpected"),
    ],
)
def test_a_malformed_accounts_table_is_refused(text: str, complaint: str) -> None:
    with pytest.raises(ScenarioError, match=re.escape(complaint)):
        run_scenario_text(text, "t.scn")
