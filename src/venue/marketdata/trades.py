"""Trades of one symbol: the recent-trades ring, and the trade's way into the candles
(`venue.views.candles`, the aggregator shared with the SQL projector) and the 24 h ticker.

Invariants:
- `Market.trades` holds the last `trades_kept` trades, oldest first; `last_trade` is the
  newest (or the engine's last price after seeding from a state).
- Every trade reaches the trades channels (one message per trade, in seq order), the
  candles of every interval and the ticker exactly once, in `apply_trade`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeAlias

from venue.domain.events import TradeExecuted
from venue.domain.values import NS_PER_MS
from venue.marketdata.text import SIDE_NAMES
from venue.views.candles import NS_PER_MINUTE

if TYPE_CHECKING:
    from venue.marketdata.market import Market

# (trade_id, price_ticks, qty_lots, aggressor_side (1, 2 or 0 for none), ts_ns, seq,
#  maker_order_id, taker_order_id)
TradeTuple: TypeAlias = tuple[int, int, int, int, int, int, int, int]
TradeRow: TypeAlias = tuple[int, int, int, int | None, int, int]
"""What `seed_trades` takes: (trade_id, price_ticks, qty_lots, aggressor_side 1/2/None,
ts_ns, seq), oldest first."""


def apply_trade(market: Market, event: TradeExecuted, seq: int) -> None:
    aggressor = event.aggressor_side
    price = event.price_ticks
    qty = event.qty_lots
    ts = event.ts_ns
    trade: TradeTuple = (
        event.trade_id,
        price,
        qty,
        0 if aggressor is None else int(aggressor),
        ts,
        seq,
        event.maker_order_id,
        event.taker_order_id,
    )
    market.trades.append(trade)
    market.last_trade = trade
    market.new_trades.append(trade)
    market.candles.add(ts, price, qty)
    market.ticker.add(ts // NS_PER_MINUTE, price, qty)


def seed_trade(market: Market, row: TradeRow) -> None:
    trade_id, price, qty, aggressor, ts_ns, seq = row
    trade = (trade_id, price, qty, aggressor or 0, ts_ns, seq, 0, 0)
    market.trades.append(trade)
    market.last_trade = trade


def trade_dict(market: Market, trade: TradeTuple) -> dict[str, Any]:
    trade_id, price, qty, aggressor, ts, seq, _maker, _taker = trade
    return {
        "trade_id": trade_id,
        "price": market.price(price),
        "quantity": market.qty(qty),
        "aggressor_side": SIDE_NAMES.get(aggressor),
        "seq": seq,
        "ts": ts,
    }


def recent_trades(market: Market, limit: int) -> list[dict[str, Any]]:
    """The most recent trades, newest first."""
    out: list[dict[str, Any]] = []
    for trade in reversed(market.trades):
        if len(out) >= limit:
            break
        out.append(trade_dict(market, trade))
    return out


def trade_messages(market: Market, trades: list[TradeTuple]) -> list[dict[str, Any]]:
    """The `trades.{symbol}` messages of `trades` (one per trade; one call per command)."""
    channel = market.ch_trades
    price = market.price
    qty = market.qty
    out: list[dict[str, Any]] = []
    # A loop, not a comprehension: no extra frame per call on the publishing path (3.11).
    for trade_id, px, lots, aggressor, ts, seq, _maker, _taker in trades:
        out.append(
            {
                "channel": channel,
                "trade_id": trade_id,
                "price": price(px),
                "quantity": qty(lots),
                "aggressor_side": SIDE_NAMES.get(aggressor),
                "seq": seq,
                "ts": ts,
            }
        )
    return out


def classic_trade_messages(market: Market, trades: list[TradeTuple]) -> list[dict[str, Any]]:
    """The `classic.trades.{symbol}` messages of `trades` (one per trade)."""
    symbol = market.symbol
    price = market.price
    qty = market.qty
    out: list[dict[str, Any]] = []
    for trade_id, px, lots, aggressor, ts, _seq, maker, taker in trades:
        out.append(
            {
                "timestamp": ts // NS_PER_MS,
                "symbol": symbol,
                "trade_id": trade_id,
                "price": price(px),
                "quantity": qty(lots),
                "aggressor_side": SIDE_NAMES.get(aggressor),
                "maker_order_id": maker,
                "taker_order_id": taker,
            }
        )
    return out
