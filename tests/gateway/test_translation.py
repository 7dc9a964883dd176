"""Requests become commands exactly: decimal text to ticks and lots, defaults, refusals."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from venue.domain.admission import command_problem
from venue.domain.commands import (
    AddInstrument,
    Command,
    CreateAccount,
    Deposit,
    SetFeeTier,
    SetRiskProfile,
)
from venue.domain.instrument import Instrument
from venue.domain.units import UnitError, Units
from venue.domain.values import OrderType, SelfTradePrevention, Side, TimeInForce
from venue.gateway.errors import ApiError
from venue.gateway.live import LiveView
from venue.gateway.requests import OrderRequest
from venue.gateway.service import Gateway
from venue.runtime.replies import Reply

INSTRUMENT = Instrument.create("BTC-USDT", "BTC", "USDT", "0.01", "0.0001", 8, 6)
INSTRUMENT_UNITS = Units(INSTRUMENT)


async def never(command: Command) -> Reply:
    raise AssertionError(f"nothing may be submitted here: {command}")


class NoHistory:
    def order(self, account_id: int, order_id: int) -> Any:
        return None

    def fills_of_order(self, account_id: int, order_id: int) -> list[Any]:
        return []


def gateway(expiration_hours: int = 0) -> Gateway:
    live = LiveView()
    live.add_instrument(INSTRUMENT)
    return Gateway(never, live, NoHistory(), order_expiration_hours=expiration_hours)


def request(**fields: Any) -> OrderRequest:
    base = {"symbol": "BTC-USDT", "side": "buy", "quantity": "0.0150", "price": "27000.10"}
    return OrderRequest.model_validate(base | fields)


def test_decimal_text_becomes_exact_ticks_and_lots() -> None:
    command = gateway().to_command(5, request(self_trade_prevention="cancel_both"))
    assert (command.account_id, command.side, command.order_type) == (5, Side.BUY, OrderType.LIMIT)
    assert (command.qty_lots, command.price_ticks) == (150, 2_700_010)
    assert command.tif == TimeInForce.GTC and command.expire_ts_ns is None
    assert command.stp == SelfTradePrevention.CANCEL_BOTH


def test_every_optional_field_is_translated() -> None:
    command = gateway().to_command(
        5,
        request(
            type="stop_limit",
            stop_price="26000",
            time_in_force="gtd",
            expire_time=1_900_000_000_000,
            display_quantity="0.005",
            post_only=True,
            client_order_id="abc-1",
        ),
    )
    assert command.order_type == OrderType.STOP_LIMIT
    assert command.stop_price_ticks == 2_600_000
    assert (command.tif, command.expire_ts_ns) == (TimeInForce.GTD, 1_900_000_000_000_000_000)
    assert (command.display_qty_lots, command.post_only) == (50, True)
    assert command.client_order_id == "abc-1"
    market = gateway().to_command(5, request(type="market", price=None, quote_quantity="100.5"))
    assert (market.price_ticks, market.quote_qty) == (None, 100_500_000)


def test_order_expiration_hours_turns_gtc_into_gtd() -> None:
    before = time.time_ns()
    command = gateway(expiration_hours=2).to_command(5, request())
    assert command.tif == TimeInForce.GTD
    assert command.expire_ts_ns is not None
    assert before + 2 * 3600 * 10**9 <= command.expire_ts_ns <= time.time_ns() + 2 * 3600 * 10**9
    ioc = gateway(expiration_hours=2).to_command(5, request(time_in_force="ioc"))
    assert (ioc.tif, ioc.expire_ts_ns) == (TimeInForce.IOC, None)


@pytest.mark.parametrize(
    ("fields", "code", "field"),
    [
        ({"quantity": "0.00001"}, "invalid_request", "quantity"),
        ({"price": "27000.001"}, "invalid_request", "price"),
        ({"price": "-1"}, "invalid_request", "price"),
        ({"price": "1e400"}, "invalid_request", "price"),
        ({"price": "NaN"}, "invalid_request", "price"),
        ({"quantity": "99999999999999999999"}, "invalid_request", "quantity"),
        ({"symbol": "ETH-USDT"}, "unknown_symbol", ""),
    ],
)
def test_values_off_the_grid_are_refused_naming_the_field(
    fields: dict[str, Any], code: str, field: str
) -> None:
    with pytest.raises(ApiError) as raised:
        gateway().to_command(5, request(**fields))
    assert raised.value.code == code
    assert field in raised.value.message


# ---------------------------------------------------------------- issue 10: the wire grammar


@pytest.mark.parametrize(
    "text",
    [
        "20000.009999999999999999999999999",  # 29 significant digits: rounds in Decimal's 28
        "20000.0100000000000000000000000001",
        " 20000 ",
        "20000\n",
        "20_000",
        "\uff12\uff10\uff10\uff10\uff10",  # fullwidth
        "\u0662\u0660\u0660\u0660\u0660",  # Arabic-Indic
        "2e4",
        "2E4",
        "+20000",
        "-20000",
        "NaN",
        "Infinity",
        ".5",
        "5.",
        "",
    ],
)
def test_a_price_outside_the_one_decimal_grammar_or_off_tick_is_refused(text: str) -> None:
    with pytest.raises(ApiError) as caught:
        gateway().to_command(5, request(price=text))
    assert caught.value.status == 400 and caught.value.details["field"] == "price"


@given(
    whole=st.integers(min_value=0, max_value=10**12),
    fraction=st.text(alphabet="0123456789", min_size=0, max_size=45),
)
def test_any_accepted_decimal_is_an_exact_number_of_ticks(whole: int, fraction: str) -> None:
    text = f"{whole}.{fraction}" if fraction else str(whole)
    try:
        ticks = INSTRUMENT_UNITS.price_ticks("price", text)
    except UnitError:
        value = Decimal(text)
        assert value <= 0 or value % Decimal("0.01") != 0 or value / Decimal("0.01") > 10**15
        return
    assert Decimal(ticks) * Decimal("0.01") == Decimal(text)  # exact: nothing was rounded


@given(
    quantity=st.integers(min_value=1, max_value=10**15),
    price=st.integers(min_value=1, max_value=10**15),
    stop=st.integers(min_value=1, max_value=10**15),
    expire_ms=st.integers(min_value=0, max_value=2**62 // 1_000_000),
    client_id=st.from_regex(r"[A-Za-z0-9_.:\-]{1,64}", fullmatch=True),
)
def test_every_order_command_the_edge_builds_can_be_journaled(
    quantity: int, price: int, stop: int, expire_ms: int, client_id: str
) -> None:
    """`Gateway.submit` skips the generic admission walk for order commands because
    `to_command` bounds every field itself: hold it to the walk at the extremes."""
    body = request(
        type="stop_limit",
        quantity=INSTRUMENT_UNITS.qty(quantity),
        price=INSTRUMENT_UNITS.price(price),
        stop_price=INSTRUMENT_UNITS.price(stop),
        time_in_force="gtd",
        expire_time=expire_ms,
        display_quantity=INSTRUMENT_UNITS.qty(quantity),
        client_order_id=client_id,
    )
    assert command_problem(gateway(expiration_hours=10**4).to_command(2**62 - 1, body)) is None


@pytest.mark.parametrize(
    ("command", "field"),
    [
        (CreateAccount("default", "default", "ab\u202ecd"), "name"),
        (CreateAccount("default", "default", "a\x00"), "name"),
        (CreateAccount("default", "default", "x" * 300), "name"),
        (SetFeeTier("t\u200b", 0, 1), "name"),
        (Deposit(1, "USDT", 2**63), "amount"),
        (SetRiskProfile("p", max_order_notional=2**64), "max_order_notional"),
        (
            AddInstrument(msgspec.structs.replace(INSTRUMENT, notional_per_tick_lot=10**60)),
            "instrument.notional_per_tick_lot",
        ),
    ],
)
def test_a_command_the_journal_could_not_hold_is_refused_before_the_sequencer(
    command: Command, field: str
) -> None:
    problem = command_problem(command)
    assert problem is not None and problem[0] == field
    with pytest.raises(ApiError) as caught:
        asyncio.run(gateway().submit(command))  # `never` fails the test if it is submitted
    assert caught.value.status == 400 and caught.value.details["field"] == field
