"""The whole venue state as one canonical, versioned value: the base of `state_hash()` and of the
journal's snapshots (DESIGN.md §8).

Canonical means: equal states encode to equal bytes. Markets are sorted by symbol, live orders
by order id; everything is ints, strings and msgspec structs, encoded as msgpack. Lazily
deleted heap entries are not state (they never change behaviour) and are not written.
"""

from __future__ import annotations

from heapq import heappush

import msgspec

from venue.domain.commands import PlaceOrder
from venue.domain.instrument import Instrument
from venue.engine.book import BUY, Order
from venue.engine.matching import Market, MatchingEngine, push_stop

SNAPSHOT_VERSION = 1


class OrderImage(msgspec.Struct, frozen=True, array_like=True):
    order_id: int
    command: PlaceOrder
    side: int
    order_type: int
    price: int
    stop_price: int
    qty: int
    remaining: int
    visible: int
    peak: int
    tif: int
    expire_ts: int
    stp: int
    priority: int
    is_market: bool
    resting: bool


class MarketImage(msgspec.Struct, frozen=True, array_like=True):
    instrument: Instrument
    status: int
    mode: int
    last_price: int
    next_priority: int
    auction_interval_ns: int
    next_uncross_ts: int
    orders: list[OrderImage]


class StateImage(msgspec.Struct, frozen=True, array_like=True):
    version: int
    last_seq: int
    last_ts_ns: int
    next_trade_id: int
    markets: list[MarketImage]


_ENCODER = msgspec.msgpack.Encoder()
_DECODER = msgspec.msgpack.Decoder(StateImage)


def image_of(engine: MatchingEngine, last_seq: int, last_ts_ns: int) -> StateImage:
    by_symbol: dict[str, list[OrderImage]] = {symbol: [] for symbol in engine.markets}
    for order_id in sorted(engine.orders):
        order = engine.orders[order_id]
        by_symbol[order.symbol].append(_order_image(order))
    markets = [
        MarketImage(
            market.instrument,
            market.status,
            market.mode,
            market.last_price,
            market.next_priority,
            market.auction_interval_ns,
            market.next_uncross_ts,
            by_symbol[symbol],
        )
        for symbol, market in sorted(engine.markets.items())
    ]
    return StateImage(SNAPSHOT_VERSION, last_seq, last_ts_ns, engine.next_trade_id, markets)


def encode_image(image: StateImage) -> bytes:
    return _ENCODER.encode(image)


def decode_image(data: bytes) -> StateImage:
    image = _DECODER.decode(data)
    if image.version != SNAPSHOT_VERSION:
        raise ValueError(f"snapshot version {image.version} is not {SNAPSHOT_VERSION}")
    return image


def engine_from_image(image: StateImage) -> MatchingEngine:
    """Rebuild the engine exactly: levels in FIFO (priority) order, queues, stops, expiries."""
    engine = MatchingEngine()
    engine.next_trade_id = image.next_trade_id
    for market_image in image.markets:
        market = Market(market_image.instrument)
        market.status = market_image.status
        market.mode = market_image.mode
        market.last_price = market_image.last_price
        market.next_priority = market_image.next_priority
        market.auction_interval_ns = market_image.auction_interval_ns
        market.next_uncross_ts = market_image.next_uncross_ts
        engine.markets[market.symbol] = market
        for order_image in sorted(market_image.orders, key=_priority_of):
            _restore_order(engine, market, order_image)
    return engine


def _restore_order(engine: MatchingEngine, market: Market, image: OrderImage) -> None:
    order = Order(
        image.order_id,
        image.command,
        image.side,
        image.order_type,
        image.price,
        image.stop_price,
        image.qty,
        image.peak,
        image.tif,
        image.expire_ts,
        image.stp,
    )
    order.remaining = image.remaining
    order.visible = image.visible
    order.priority = image.priority
    order.is_market = image.is_market
    if image.resting:
        book_side = market.bids if order.side == BUY else market.asks
        book_side.level_for(order.price).append(order)
    elif image.is_market:
        (market.market_buys if order.side == BUY else market.market_sells).append(order)
    else:
        push_stop(market, order)
    engine.orders[order.order_id] = order
    market.order_count += 1
    if order.expire_ts:
        heappush(market.expiries, (order.expire_ts, order.order_id))


def _order_image(order: Order) -> OrderImage:
    return OrderImage(
        order.order_id,
        order.command,
        order.side,
        order.order_type,
        order.price,
        order.stop_price,
        order.qty,
        order.remaining,
        order.visible,
        order.peak,
        order.tif,
        order.expire_ts,
        order.stp,
        order.priority,
        order.is_market,
        order.level is not None,
    )


def _priority_of(image: OrderImage) -> int:
    return image.priority
