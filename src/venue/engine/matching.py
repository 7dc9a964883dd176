"""The matching engine: every market's book, stops, expiries and call auction, and the rules of
DESIGN.md §6. Pure and synchronous; each public method appends the events of one command to
`out` in the order they happened.

`MatchingEngine` is the one entry point the core uses: it looks the market up, runs the command
through the modules that hold the rules, and decides the order of the steps between them (match,
then the stop triggers, then the indicative price of a call market). The rules live in
    validation.py    the checks of a new order and of a replace, first failure wins
    continuous.py    price-time priority, fills at the maker's price, no trade-through, market
                     orders bounded by the band, FOK's dry run, post-only, icebergs,
                     self-trade prevention, quote budgets
    stops.py         stops and take-profits: triggered by any trade at or through their price,
                     after the order that moved it, a cascade in order id order
    expiry.py        GTD and DAY orders expire when a Tick reaches their time
    call_auction.py  call mode collects orders without matching and uncrosses at one price
                     (the price itself: auction.py)
    replace.py       replace (amend): reducing keeps priority, re-pricing or growing loses it
over the shared state of market.py (`Market`, `EngineState`), each stating its invariants.
This module keeps the names the core imports (`Market`, `push_stop`, the order-type and mode
constants) where they always were.

Invariants of a command, on top of the modules' own:
- A rejected command (a `RejectReason` returned, or an OrderRejected event) changes nothing.
- The stop triggers run once the command's own matching is done (and, for an uncross, once the
  market is in its next mode); a call market publishes its indicative price after any change.
- Markets are ticked in symbol order, so a state restored from a snapshot ticks the same way.

Known limitations: cancel-all and the auction's indicative price are O(orders) (rare, or
call markets, which are small); market orders in call mode wait in a FIFO per side.
"""

from __future__ import annotations

from typing import Final

from msgspec.structs import astuple

from venue.domain.commands import (
    CancelAllOrders,
    CancelOrder,
    HaltMarket,
    PlaceOrder,
    ReplaceOrder,
    ResumeMarket,
    SetMarketMode,
    Uncross,
)
from venue.domain.events import (
    Event,
    InstrumentAdded,
    MarketStatusChanged,
    OrderAccepted,
    OrderCanceled,
    OrderRejected,
)
from venue.domain.instrument import Instrument, instrument_problem
from venue.domain.reject import RejectReason
from venue.domain.values import CancelReason, MarketMode, MarketStatus
from venue.engine.book import ABSENT, Level, Order, check_book, order_from_command
from venue.engine.call_auction import indicative, schedule_uncross, uncross_market
from venue.engine.continuous import execute, lot_cost, market_price_limit
from venue.engine.expiry import expire, next_expiry_ns, session_close
from venue.engine.market import (
    CALL,
    CONTINUOUS,
    DAY,
    GTD,
    HALTED,
    LIMIT,
    MARKET,
    OPEN,
    STOP_LIMIT,
    STOP_MARKET,
    TAKE_PROFIT_LIMIT,
    EngineState,
    Market,
    remove_live,
)
from venue.engine.replace import replace_order
from venue.engine.stops import add_stop, push_stop, run_triggers
from venue.engine.validation import validate_order, validate_replacement

# What other packages import from here (the core, its snapshots, the tests).
__all__ = [
    "CALL",
    "LIMIT",
    "MARKET",
    "STOP_LIMIT",
    "STOP_MARKET",
    "TAKE_PROFIT_LIMIT",
    "Market",
    "MatchingEngine",
    "push_stop",
]

# Hot-path aliases: a Final module constant is a C static under mypyc, an imported name a dict
# lookup per use (see engine/market.py).
_ASTUPLE: Final = astuple
ORDER_ACCEPTED: Final = OrderAccepted
ORDER_CANCELED: Final = OrderCanceled
CANCELED_BY_USER: Final = CancelReason.USER

# The per-lot cost of a budgeted buy under its old name: the fee tests compare it with the
# ledger's reservation (ledger/fees.py).
_lot_cost: Final = lot_cost


class MatchingEngine(EngineState):
    """All markets of the venue and the index of live orders by id, and the commands on them."""

    # ------------------------------------------------------------------ administration

    def add_instrument(
        self, instrument: Instrument, ts: int, out: list[Event]
    ) -> RejectReason | None:
        if instrument.symbol in self.markets:
            return RejectReason.DUPLICATE_SYMBOL
        if instrument_problem(instrument) is not None:
            return RejectReason.INVALID_INSTRUMENT
        market = Market(instrument)
        self.markets[instrument.symbol] = market
        if market.mode == CALL:
            schedule_uncross(market, ts)
        out.append(InstrumentAdded(instrument))
        return None

    def halt(self, cmd: HaltMarket, out: list[Event]) -> RejectReason | None:
        market = self.markets.get(cmd.symbol)
        if market is None:
            return RejectReason.UNKNOWN_SYMBOL
        market.status = HALTED
        out.append(MarketStatusChanged(market.symbol, MarketStatus.HALTED, MarketMode(market.mode)))
        return None

    def resume(self, cmd: ResumeMarket, out: list[Event]) -> RejectReason | None:
        market = self.markets.get(cmd.symbol)
        if market is None:
            return RejectReason.UNKNOWN_SYMBOL
        market.status = OPEN
        out.append(MarketStatusChanged(market.symbol, MarketStatus.OPEN, MarketMode(market.mode)))
        return None

    def set_mode(self, cmd: SetMarketMode, ts: int, out: list[Event]) -> RejectReason | None:
        market = self.markets.get(cmd.symbol)
        if market is None:
            return RejectReason.UNKNOWN_SYMBOL
        new_mode = int(cmd.mode)
        interval = cmd.auction_interval_ns
        if interval is not None and interval < 0:
            return RejectReason.INVALID_MODE_CHANGE
        if new_mode == market.mode and (new_mode == CONTINUOUS or interval is None):
            return RejectReason.NOTHING_TO_CHANGE
        if new_mode == CONTINUOUS:
            if market.status == HALTED:
                return RejectReason.MARKET_HALTED
            traded = uncross_market(self, market, ts, out)
            market.mode = CONTINUOUS
            if traded:
                run_triggers(self, market, ts, out)
        else:
            market.mode = CALL
            if interval is not None:
                market.auction_interval_ns = interval
            schedule_uncross(market, ts)
        out.append(
            MarketStatusChanged(market.symbol, MarketStatus(market.status), MarketMode(market.mode))
        )
        if market.mode == CALL:
            indicative(market, out)
        return None

    def uncross(self, cmd: Uncross, ts: int, out: list[Event]) -> RejectReason | None:
        market = self.markets.get(cmd.symbol)
        if market is None:
            return RejectReason.UNKNOWN_SYMBOL
        if market.mode != CALL:
            return RejectReason.NOT_IN_CALL_MODE
        if market.status == HALTED:
            return RejectReason.MARKET_HALTED
        if uncross_market(self, market, ts, out):
            run_triggers(self, market, ts, out)
        indicative(market, out)
        return None

    def tick(self, ts: int, out: list[Event]) -> None:
        """Expire what is due and uncross the periodic auctions whose time has come."""
        # Sorted, not insertion order: a state restored from a snapshot must tick the same way.
        for symbol in sorted(self.markets):
            market = self.markets[symbol]
            expired = expire(self, market, ts, out)
            due = (
                market.mode == CALL
                and market.auction_interval_ns > 0
                and ts >= market.next_uncross_ts
            )
            if due:
                if market.status == OPEN and uncross_market(self, market, ts, out):
                    run_triggers(self, market, ts, out)
                schedule_uncross(market, ts)
            if market.mode == CALL and (due or expired):
                indicative(market, out)

    def next_due_ns(self) -> int | None:
        """The earliest time at which a Tick would change anything (an expiry or a periodic
        auction's uncross), or None if no Tick ever would. An expiry entry may be stale (its
        order gone): a Tick then only drops it, which is harmless, and the time moves on."""
        due: int | None = None
        for market in self.markets.values():
            expiry = next_expiry_ns(market)
            if expiry is not None and (due is None or expiry < due):
                due = expiry
            if market.mode == CALL and market.auction_interval_ns > 0:
                if due is None or market.next_uncross_ts < due:
                    due = market.next_uncross_ts
        return due

    # ------------------------------------------------------------------ order entry

    def place(self, order_id: int, cmd: PlaceOrder, ts: int, out: list[Event]) -> None:
        """Validate and enter a new order (the venue without accounts: nothing to reserve)."""
        order = order_from_command(order_id, cmd)
        market = self.markets.get(order.symbol)  # looked up once: this is the hot path
        if market is None:
            out.append(OrderRejected(order_id, RejectReason.UNKNOWN_SYMBOL, cmd))
            return
        reason = validate_order(market, order, ts)
        if reason is not None:
            out.append(OrderRejected(order_id, reason, cmd))
            return
        self._admit(market, order, ts, out, 0, 0)

    def check(self, order: Order, ts: int) -> RejectReason | None:
        """Every rule a new order (from `order_from_command`) must pass, first failure wins."""
        market = self.markets.get(order.symbol)
        if market is None:
            return RejectReason.UNKNOWN_SYMBOL
        return validate_order(market, order, ts)

    def admit(
        self, order: Order, ts: int, out: list[Event], cap_price: int, budget_fee_bps: int
    ) -> None:
        """Enter an order that passed `check`: match, rest, queue or wait for its trigger.
        `cap_price` bounds a market buy; a quote budget is spent at `budget_fee_bps`."""
        self._admit(self.markets[order.symbol], order, ts, out, cap_price, budget_fee_bps)

    def _admit(
        self,
        market: Market,
        order: Order,
        ts: int,
        out: list[Event],
        cap_price: int,
        budget_fee_bps: int,
    ) -> None:
        if order.price == ABSENT:
            order.price = cap_price
        if order.stop_price == ABSENT:
            order.stop_price = 0
        if order.peak == ABSENT:
            order.peak = 0
        tif = order.tif
        if tif == GTD:
            pass  # expire_ts is the command's
        elif tif == DAY:
            order.expire_ts = session_close(market, ts)
        else:
            order.expire_ts = 0
        if order.budget == ABSENT:
            order.budget = 0
        else:
            order.has_budget = True
            order.budget_fee_bps = budget_fee_bps
        if self.reporting:
            out.append(ORDER_ACCEPTED(order.order_id, order.command))
        if order.order_type >= STOP_MARKET:
            add_stop(self, market, order)
            return
        trade_id_before = self.next_trade_id
        execute(self, market, order, ts, out)
        if self.next_trade_id != trade_id_before:
            run_triggers(self, market, ts, out)
        if market.mode == CALL:
            indicative(market, out)

    def market_limit(self, symbol: str, side: int) -> int:
        """The worst price a market order may reach now (see `continuous.market_price_limit`)."""
        return market_price_limit(self.markets[symbol], side)

    def buy_walk_cost(self, symbol: str, qty: int, account_id: int, fee_bps: int) -> int:
        """An upper bound of what a market buy of `qty` lots can spend against the book as it is
        now: the cheapest `qty` lots of other accounts, each lot with its fee rounded up.
        Most market orders stop at the best level, so the other prices are sorted only when
        the best level does not hold enough."""
        market = self.markets[symbol]
        best = market.asks.best()
        if best is None:
            return 0
        cost, needed = _walk_cost(market, best, qty, account_id, fee_bps)
        if needed:
            levels = market.asks.levels
            for price in sorted(levels):
                if price > best.price:
                    more, needed = _walk_cost(market, levels[price], needed, account_id, fee_bps)
                    cost += more
                    if needed == 0:
                        break
        return cost

    def validate_replace(self, cmd: ReplaceOrder) -> RejectReason | None:
        order = self.orders.get(cmd.order_id)
        if order is None or order.account_id != cmd.account_id:
            return RejectReason.UNKNOWN_ORDER
        return validate_replacement(self.markets[order.symbol], order, cmd)

    def cancel(self, cmd: CancelOrder, out: list[Event]) -> RejectReason | None:
        account_id, order_id = _ASTUPLE(cmd)  # one C call (see order_from_command)
        order = self.orders.get(order_id)
        if order is None or order.account_id != account_id:
            return RejectReason.UNKNOWN_ORDER
        market = self.markets[order.symbol]
        out.append(
            ORDER_CANCELED(
                order.order_id, order.account_id, order.symbol, order.remaining, CANCELED_BY_USER
            )
        )
        remove_live(self, market, order, out)
        if market.mode == CALL:
            indicative(market, out)
        return None

    def cancel_all(self, cmd: CancelAllOrders, out: list[Event], reason: CancelReason) -> None:
        """Cancel every live order of the account (in one market, or all), oldest first."""
        account_id = cmd.account_id
        symbol = cmd.symbol
        victims = [
            order
            for order in self.orders.values()
            if order.account_id == account_id and (symbol is None or order.symbol == symbol)
        ]
        victims.sort(key=_order_id_of)
        touched: dict[str, Market] = {}
        for order in victims:
            market = self.markets[order.symbol]
            touched[order.symbol] = market
            out.append(
                OrderCanceled(
                    order.order_id, order.account_id, order.symbol, order.remaining, reason
                )
            )
            remove_live(self, market, order, out)
        for market in touched.values():
            if market.mode == CALL:
                indicative(market, out)

    def replace(self, cmd: ReplaceOrder, ts: int, out: list[Event]) -> RejectReason | None:
        order = self.orders.get(cmd.order_id)
        if order is None or order.account_id != cmd.account_id:
            return RejectReason.UNKNOWN_ORDER
        market = self.markets[order.symbol]
        reason = validate_replacement(market, order, cmd)
        if reason is not None:
            return reason
        replace_order(self, market, order, cmd, ts, out)
        return None

    # ------------------------------------------------------------------ inspection

    def check_invariants(self) -> list[str]:
        """Every broken invariant across all markets (empty when all hold)."""
        problems: list[str] = []
        resting: dict[int, Order] = {}
        for market in self.markets.values():
            crossed_allowed = market.mode == CALL
            problems.extend(
                f"{market.symbol}: {p}"
                for p in check_book(market.bids, market.asks, crossed_allowed)
            )
            for book_side in (market.bids, market.asks):
                for level in book_side.levels.values():
                    for order in level.orders():
                        resting[order.order_id] = order
            for order in market.market_buys + market.market_sells:
                resting[order.order_id] = order
            live = sum(1 for order in self.orders.values() if order.symbol == market.symbol)
            if live != market.order_count:
                problems.append(
                    f"{market.symbol}: order_count {market.order_count} but {live} live"
                )
        for order_id, order in resting.items():
            if self.orders.get(order_id) is not order:
                problems.append(f"order {order_id} rests but is missing from the index")
        for order_id, order in self.orders.items():
            pending = order.order_type >= STOP_MARKET
            if not pending and order_id not in resting:
                problems.append(f"order {order_id} indexed but not in any book")
            if pending and order.level is not None:
                problems.append(f"stop {order_id} pending yet resting")
        return problems


def _walk_cost(
    market: Market, level: Level, needed: int, account_id: int, fee_bps: int
) -> tuple[int, int]:
    """What a market buy pays for up to `needed` lots of other accounts at one level, and the
    lots it still needs after it."""
    per_lot = lot_cost(market, level.price, fee_bps)
    cost = 0
    maker = level.head
    while maker is not None and needed > 0:
        if maker.account_id != account_id:
            take = min(needed, maker.remaining)
            cost += take * per_lot
            needed -= take
        maker = maker.next
    return cost, needed


def _order_id_of(order: Order) -> int:
    return order.order_id
