"""Auction figures of one symbol: the indicative price and imbalance during a call, and the
result of each uncross.

Invariants:
- `Market.auction` is the last auction message (indicative or uncrossed: the channel's
  snapshot), `Market.auction_uncrossed` the last uncross.
- Unlike the other channels, every auction event is published (`Market.new_auctions`): an
  uncross is followed in the same command by the next call's (empty) indicative, and both
  matter.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from venue.domain.events import AuctionIndicative, AuctionUncrossed
from venue.marketdata.text import opt, side_name

if TYPE_CHECKING:
    from venue.marketdata.market import Market


def apply_auction(
    market: Market, event: AuctionIndicative | AuctionUncrossed, seq: int, ts: int
) -> None:
    price_text = None if event.price_ticks is None else market.price(event.price_ticks)
    message: dict[str, Any]
    if type(event) is AuctionIndicative:
        message = {
            "channel": market.ch_auction,
            "type": "indicative",
            "seq": seq,
            "ts": ts,
            "price": price_text,
            "paired_quantity": market.qty(event.paired_lots),
            "imbalance_quantity": market.qty(event.imbalance_lots),
            "imbalance_side": side_name(event.imbalance_side),
            "best_bid": opt(market.price, event.best_bid_ticks),
            "best_ask": opt(market.price, event.best_ask_ticks),
        }
    else:
        assert type(event) is AuctionUncrossed
        message = {
            "channel": market.ch_auction,
            "type": "uncrossed",
            "seq": seq,
            "ts": ts,
            "price": price_text,
            "paired_quantity": market.qty(event.volume_lots),
            "imbalance_quantity": "0",
            "imbalance_side": None,
            "trade_count": event.trade_count,
        }
    if type(event) is AuctionUncrossed:
        market.auction_uncrossed = message
    market.auction = message
    market.new_auctions.append(message)


def auction_dict(market: Market) -> dict[str, Any] | None:
    """The last auction message (flat, as published but without "channel"), with
    `last_uncross` the last uncross message (or None); None if the symbol never had an
    auction event."""
    latest = _without_channel(market.auction)
    if latest is None:
        return None
    return {
        "symbol": market.symbol,
        **latest,
        "last_uncross": _without_channel(market.auction_uncrossed),
    }


def _without_channel(message: dict[str, Any] | None) -> dict[str, Any] | None:
    if message is None:
        return None
    return {key: value for key, value in message.items() if key != "channel"}
