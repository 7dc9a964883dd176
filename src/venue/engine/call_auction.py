"""Call mode (DESIGN.md §6): orders collect without matching, the indicative price is
published, and the uncross executes everything that crosses at one price. The choice of that
price is engine/auction.py, a pure function of the two demand curves built here.

Rules implemented here:
- While a market is in call mode its book may be crossed; market orders wait in a FIFO queue
  per side (a capped market buy bids like a limit order at its cap).
- Everything crossing at the clearing price trades at that one price in price-time priority,
  market orders first; at most one order per side is left partly filled. Each trade's maker is
  the older order of the pair, and it carries no aggressor side.
- A self-trade never prints: if pairing the crossing orders would match an account with itself,
  the newer of the two is canceled and the price is found again without it, so an uncross never
  leaves a crossed book behind.
- Market orders still queued after the uncross are canceled (AUCTION_REMAINDER).
- Each touched level is reported once after the uncross, bids best first, then asks.
- A periodic call market uncrosses on the next multiple of its interval (`schedule_uncross`).
- The uncross notes its price for the stop triggers; the caller runs them, once the market is
  in its next mode.

Known limitation: the clearing curves and the indicative price are O(orders) per call (call
markets are small).
"""

from __future__ import annotations

from venue.domain.events import (
    AuctionIndicative,
    AuctionUncrossed,
    Event,
    OrderCanceled,
    TradeExecuted,
)
from venue.domain.values import CancelReason, Side
from venue.engine.auction import ClearingResult, clearing_price
from venue.engine.book import BUY, Level, Order
from venue.engine.market import (
    EngineState,
    Market,
    level_event,
    note_trade_price,
    refill,
    remove_live,
    unrest,
)


def schedule_uncross(market: Market, ts: int) -> None:
    interval = market.auction_interval_ns
    market.next_uncross_ts = (ts // interval + 1) * interval if interval > 0 else 0


def indicative(market: Market, out: list[Event]) -> None:
    """Publish the price, paired volume and imbalance the market would uncross at now."""
    result = _clearing(market)
    imbalance = result.imbalance
    side: Side | None = None
    if result.price is not None and imbalance:
        side = Side.BUY if imbalance > 0 else Side.SELL
    out.append(
        AuctionIndicative(
            market.symbol,
            result.price,
            result.volume,
            abs(imbalance) if result.price is not None else 0,
            side,
            market.best_bid(),
            market.best_ask(),
        )
    )


def uncross_market(engine: EngineState, market: Market, ts: int, out: list[Event]) -> bool:
    """Execute everything that crosses at the uniform clearing price, in price-time
    priority (market orders first); cancel unfilled market orders. Returns whether anything
    traded: the caller runs the stop triggers, once the market is in its next mode."""
    touched: dict[tuple[int, int], Level] = {}
    price, buys, sells = _crossing(engine, market, out, touched)
    volume = 0
    trades = 0
    i = 0
    j = 0
    while price is not None and i < len(buys) and j < len(sells):
        buy = buys[i]
        sell = sells[j]
        qty = min(buy.remaining, sell.remaining)
        _fill(market, buy, qty, touched)
        _fill(market, sell, qty, touched)
        maker, taker = (buy, sell) if buy.order_id < sell.order_id else (sell, buy)
        trade_id = engine.next_trade_id
        engine.next_trade_id = trade_id + 1
        out.append(
            TradeExecuted(
                trade_id,
                market.symbol,
                price,
                qty,
                maker.order_id,
                taker.order_id,
                maker.account_id,
                taker.account_id,
                None,
                ts,
                maker.remaining,
                taker.remaining,
            )
        )
        volume += qty
        trades += 1
        if buy.remaining == 0:
            _drop(engine, market, buy, touched)
            i += 1
        if sell.remaining == 0:
            _drop(engine, market, sell, touched)
            j += 1
    if trades and price is not None:
        market.last_price = price
        note_trade_price(market, price)
    for queue in (market.market_buys, market.market_sells):
        for order in list(queue):
            out.append(
                OrderCanceled(
                    order.order_id,
                    order.account_id,
                    order.symbol,
                    order.remaining,
                    CancelReason.AUCTION_REMAINDER,
                )
            )
            remove_live(engine, market, order, out)
    for (side, _), level in sorted(touched.items(), key=_touched_key):
        out.append(level_event(market.symbol, side, level))
    out.append(AuctionUncrossed(market.symbol, price if trades else None, volume, trades))
    return trades > 0


def _clearing(market: Market) -> ClearingResult:
    bids = [(lvl.price, _total(lvl)) for lvl in market.bids.levels.values()]
    asks = [(lvl.price, _total(lvl)) for lvl in market.asks.levels.values()]
    # A capped market buy (see Order) bids like a limit order at its cap.
    bids.extend((order.price, order.remaining) for order in market.market_buys if order.price)
    market_buy = sum(order.remaining for order in market.market_buys if not order.price)
    market_sell = sum(order.remaining for order in market.market_sells)
    reference = market.reference_price()
    return clearing_price(bids, asks, market_buy, market_sell, reference or None)


def _crossing(
    engine: EngineState, market: Market, out: list[Event], touched: dict[tuple[int, int], Level]
) -> tuple[int | None, list[Order], list[Order]]:
    """The clearing price and the orders that trade at it, in priority order. If pairing
    them would match an account with itself, the newer of the two is canceled (a self-trade
    never prints) and the price is found again without it: so the uncross never leaves
    a crossed book behind."""
    while True:
        price = _clearing(market).price
        if price is None:
            return None, [], []
        buys = [
            order for order in market.market_buys if not order.price or order.price >= price
        ] + [
            order
            for lvl in market.bids.sorted_levels()
            if lvl.price >= price
            for order in lvl.orders()
        ]
        sells = list(market.market_sells) + [
            order
            for lvl in market.asks.sorted_levels()
            if lvl.price <= price
            for order in lvl.orders()
        ]
        newer = _first_self_match(buys, sells)
        if newer is None:
            return price, buys, sells
        out.append(
            OrderCanceled(
                newer.order_id,
                newer.account_id,
                newer.symbol,
                newer.remaining,
                CancelReason.SELF_TRADE,
            )
        )
        _drop(engine, market, newer, touched)


def _fill(market: Market, order: Order, qty: int, touched: dict[tuple[int, int], Level]) -> None:
    """Take `qty` off an order in an uncross: visible part first, then the hidden reserve."""
    order.remaining -= qty
    level = order.level
    if level is None:
        return
    touched[(order.side, level.price)] = level
    shown = min(qty, order.visible)
    order.visible -= shown
    level.qty -= shown
    if order.visible == 0 and order.remaining > 0:
        refill(market, level, order)


def _drop(
    engine: EngineState, market: Market, order: Order, touched: dict[tuple[int, int], Level]
) -> None:
    """Take an order out of the auction (filled, or canceled as a self-trade)."""
    level = order.level
    if level is not None:
        touched[(order.side, level.price)] = level
        unrest(engine, market, level, order)
        if level.count == 0:
            (market.bids if order.side == BUY else market.asks).drop_level(level)
        return
    (market.market_buys if order.side == BUY else market.market_sells).remove(order)
    del engine.orders[order.order_id]
    market.order_count -= 1


def _first_self_match(buys: list[Order], sells: list[Order]) -> Order | None:
    """Pair `buys` with `sells` as the uncross would (quantities only, nothing changes) and
    return the newer order of the first pair that has one account on both sides."""
    i = 0
    j = 0
    buy_left = buys[0].remaining if buys else 0
    sell_left = sells[0].remaining if sells else 0
    while i < len(buys) and j < len(sells):
        buy = buys[i]
        sell = sells[j]
        if buy.account_id == sell.account_id:
            return buy if buy.order_id > sell.order_id else sell
        qty = min(buy_left, sell_left)
        buy_left -= qty
        sell_left -= qty
        if buy_left == 0:
            i += 1
            buy_left = buys[i].remaining if i < len(buys) else 0
        if sell_left == 0:
            j += 1
            sell_left = sells[j].remaining if j < len(sells) else 0
    return None


def _total(level: Level) -> int:
    total = 0
    order = level.head
    while order is not None:
        total += order.remaining
        order = order.next
    return total


def _touched_key(item: tuple[tuple[int, int], Level]) -> tuple[int, int]:
    (side, price), _ = item
    return (side, -price if side == BUY else price)
