"""The hot path reads commands by field position (engine/book.py, core/state.py): these pin the
positions to the structs, so reordering a command's fields fails here instead of silently."""

from __future__ import annotations

from venue.domain.commands import PlaceOrder, SequencedCommand
from venue.domain.values import OrderType, SelfTradePrevention, Side, TimeInForce
from venue.engine.book import ABSENT, PLACE_FIELDS, order_from_command


def test_place_order_fields_are_where_the_engine_reads_them() -> None:
    assert PlaceOrder.__struct_fields__ == PLACE_FIELDS


def test_sequenced_command_fields_are_where_apply_reads_them() -> None:
    assert SequencedCommand.__struct_fields__[:3] == ("seq", "ts_ns", "command")


def test_order_from_command_reads_every_field() -> None:
    command = PlaceOrder(
        7,
        "X",
        Side.SELL,
        OrderType.STOP_LIMIT,
        30,
        price_ticks=101,
        stop_price_ticks=99,
        tif=TimeInForce.GTD,
        expire_ts_ns=5_000,
        post_only=True,
        display_qty_lots=10,
        stp=SelfTradePrevention.CANCEL_BOTH,
        client_order_id="c-1",
        quote_qty=None,
    )
    order = order_from_command(42, command)
    assert (order.order_id, order.account_id, order.symbol) == (42, 7, "X")
    assert (order.side, order.order_type, order.qty, order.remaining) == (2, 4, 30, 30)
    assert (order.price, order.stop_price, order.tif, order.expire_ts) == (101, 99, 4, 5_000)
    assert (order.post_only, order.peak, order.stp, order.budget) == (True, 10, 3, ABSENT)
    assert order.command is command


def test_absent_optional_fields_read_as_absent() -> None:
    order = order_from_command(1, PlaceOrder(1, "X", Side.BUY, OrderType.MARKET, 5, quote_qty=900))
    assert (order.price, order.stop_price, order.expire_ts, order.peak) == (ABSENT,) * 4
    assert order.budget == 900
