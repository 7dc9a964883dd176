"""Publishing: what one command changed in one market, encoded to JSON and handed to the `Hub`,
and the first message (snapshot) of each channel for a new subscriber.

Invariants:
- This is the only module of the projection that encodes JSON (msgspec); the others build
  plain dicts of text.
- One message per channel per command (`flush`), except trades (one message per trade) and
  auctions (one per auction event), in seq order.
- Nothing is serialized for a channel without subscribers, and each message is serialized
  once for all of its subscribers.
- A book snapshot is encoded once per book_seq and reused (`Market.snapshot_cache`) until
  the book changes.
- Runs on the event loop thread, like the rest of the projection: a session that subscribes
  and queues a snapshot between two awaits can never miss or double a delta.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import msgspec

from venue.marketdata.book import bbo_message, bbo_of, changes_text, classic_book_message
from venue.marketdata.book import snapshot_message as book_snapshot_message
from venue.marketdata.candles import candle_message
from venue.marketdata.ticker import ticker_dict
from venue.marketdata.trades import classic_trade_messages, trade_messages
from venue.views.candles import INTERVAL_INDEX

if TYPE_CHECKING:
    from venue.marketdata.hub import Hub
    from venue.marketdata.market import Market

encode: Final = msgspec.json.Encoder().encode


def flush(market: Market, hub: Hub | None, seq: int, ts: int) -> None:
    """Publish what command `seq` (at `ts`) changed in `market` and reset its scratch."""
    market.touched = False
    bid_changes = market.bid_changes
    ask_changes = market.ask_changes
    if bid_changes or ask_changes:
        prev_seq = market.book_seq
        market.book_seq = seq
        market.book_ts = ts
        if hub is not None and hub.has_subscribers(market.ch_book):
            hub.publish(
                market.ch_book,
                encode(
                    {
                        "channel": market.ch_book,
                        "type": "delta",
                        "seq": seq,
                        "prev_seq": prev_seq,
                        "ts": ts,
                        "bids": changes_text(market, bid_changes, reverse=True),
                        "asks": changes_text(market, ask_changes, reverse=False),
                    }
                ),
            )
        bid_changes.clear()
        ask_changes.clear()
        bbo = bbo_of(market)
        if bbo != market.bbo:
            market.bbo = bbo
            if hub is not None and hub.has_subscribers(market.ch_bbo):
                hub.publish(market.ch_bbo, encode(bbo_message(market)))
        if market.top_changed:
            market.top_changed = False
            if hub is not None and hub.has_subscribers(market.ch_classic_book):
                hub.publish(market.ch_classic_book, encode(classic_book_message(market, ts)))
    new_trades = market.new_trades
    if new_trades:
        if hub is not None:
            _publish_trades(hub, market, seq, ts)
        new_trades.clear()
    new_auctions = market.new_auctions
    if new_auctions:
        if hub is not None and hub.has_subscribers(market.ch_auction):
            for message in new_auctions:
                hub.publish(market.ch_auction, encode(message))
        new_auctions.clear()


def _publish_trades(hub: Hub, market: Market, seq: int, ts: int) -> None:
    new_trades = market.new_trades
    if hub.has_subscribers(market.ch_trades):
        channel = market.ch_trades
        for message in trade_messages(market, new_trades):
            hub.publish(channel, encode(message))
    if hub.has_subscribers(market.ch_classic_trades):
        channel = market.ch_classic_trades
        for message in classic_trade_messages(market, new_trades):
            hub.publish(channel, encode(message))
    live = market.candles.live
    for index, name, channel in market.ch_candles:
        if hub.has_subscribers(channel):
            candle = live[index]
            assert candle is not None  # a trade just made or extended it
            hub.publish(channel, encode(candle_message(market, name, candle, channel)))
    if hub.has_subscribers(market.ch_ticker):
        hub.publish(market.ch_ticker, encode(ticker_message(market, seq, ts)))


def ticker_message(market: Market, seq: int, ts: int) -> dict[str, object]:
    return {"channel": market.ch_ticker, **ticker_dict(market, seq, ts)}


def book_snapshot(market: Market, depth: int) -> bytes:
    cached = market.snapshot_cache
    if cached is not None and cached[0] == market.book_seq:
        return cached[2]
    payload = encode(book_snapshot_message(market, depth))
    market.snapshot_cache = (market.book_seq, market.book_ts, payload)
    return payload


def snapshot(
    kind: str, market: Market, interval: str, channel: str, depth: int, seq: int, ts: int
) -> bytes | None:
    """The first message of a new subscriber of `channel` (of `kind`, for `market` and, for
    candles, `interval`), or None (trades: no snapshot; or nothing to say yet). `depth`
    bounds a book snapshot; (`seq`, `ts`) is the last command applied."""
    if kind == "book":
        return book_snapshot(market, depth)
    if kind == "bbo":
        return encode(bbo_message(market))
    if kind == "ticker":
        return encode(ticker_message(market, seq, ts))
    if kind == "auction":
        return None if market.auction is None else encode(market.auction)
    if kind == "classic.book":
        return encode(classic_book_message(market, market.book_ts))
    if kind == "candles":
        candle = market.candles.live[INTERVAL_INDEX[interval]]
        if candle is None:
            return None
        return encode(candle_message(market, interval, candle, channel))
    return None  # trades, classic.trades: no snapshot
