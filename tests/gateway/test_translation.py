"""Requests become commands exactly: decimal text to ticks and lots, defaults, refusals."""

from __future__ import annotations

import time
from typing import Any

import pytest

from venue.domain.commands import Command
from venue.domain.instrument import Instrument
from venue.domain.values import OrderType, SelfTradePrevention, Side, TimeInForce
from venue.gateway.errors import ApiError
from venue.gateway.live import LiveView
from venue.gateway.requests import OrderRequest
from venue.gateway.service import Gateway
from venue.runtime.replies import Reply

INSTRUMENT = Instrument.create("BTC-USDT", "BTC", "USDT", "0.01", "0.0001", 8, 6)


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
