"""The matching engine: every market's book, stops, expiries and call auction, and the rules of
DESIGN.md §6. Pure and synchronous; each public method appends the events of one command to
`out` in the order they happened.

Rules implemented here (each where it happens):
- Continuous matching: price-time priority, every fill at the maker's price, levels exhausted
  one after another (no trade-through). MARKET orders never rest and are bounded by the price
  band; GTC/IOC market orders are the same thing.
- FOK is decided before any fill by a dry run over the opposite side (`_fok_fillable`).
- Post-only orders are rejected if they would take liquidity.
- Icebergs show `peak` lots at a time; each refill goes to the back of its level.
- Self-trade prevention follows the incoming order's mode; a self-trade never prints.
- Stops and take-profits wait for the trade price: any trade at or through the stop price
  triggers it (the highest and lowest prints of a sweep count, not only its last). Triggers run
  after the order that moved the price; a cascade is resolved in order id (= placement seq)
  order inside the command. A stop triggered by an opening auction acts in the continuous
  market that follows it.
- GTD and DAY orders expire when a Tick reaches their time.
- Call mode collects orders without matching and uncrosses at one price (engine/auction.py).

Known limitations: cancel-all and the auction's indicative price are O(orders) (rare, or
call markets, which are small); market orders in call mode wait in a FIFO per side.
"""

from __future__ import annotations

from collections import deque
from heapq import heappop, heappush
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
    AuctionIndicative,
    AuctionUncrossed,
    Event,
    InstrumentAdded,
    LevelUpdated,
    MarketStatusChanged,
    OrderAccepted,
    OrderCanceled,
    OrderExpired,
    OrderReduced,
    OrderRejected,
    OrderReplaced,
    StopTriggered,
    TradeExecuted,
)
from venue.domain.instrument import Instrument, instrument_problem
from venue.domain.reject import RejectReason
from venue.domain.values import (
    BPS_DENOMINATOR,
    MAX_PRICE_TICKS,
    MAX_QTY_LOTS,
    NS_PER_DAY,
    CancelReason,
    MarketMode,
    MarketStatus,
    Side,
)
from venue.engine.auction import ClearingResult, clearing_price
from venue.engine.book import (
    ABSENT,
    BUY,
    NO_PRICE_CAP,
    SELL,
    BookSide,
    Level,
    Order,
    check_book,
    order_from_command,
)

# Plain-int mirrors of the domain enums, for the hot path.
LIMIT: Final = 1
MARKET: Final = 2
STOP_MARKET: Final = 3
STOP_LIMIT: Final = 4
TAKE_PROFIT: Final = 5
TAKE_PROFIT_LIMIT: Final = 6
GTC: Final = 1
IOC: Final = 2
FOK: Final = 3
GTD: Final = 4
DAY: Final = 5
STP_CANCEL_NEWEST: Final = 1
STP_CANCEL_OLDEST: Final = 2
STP_CANCEL_BOTH: Final = 3
STP_DECREMENT: Final = 4
CONTINUOUS: Final = 1
CALL: Final = 2
OPEN: Final = 1
HALTED: Final = 2

_SIDES: Final = (Side.BUY, Side.BUY, Side.SELL)  # indexed by the int side (1 or 2)

# Hot-path aliases. Compiled code loads a Final module constant from a C static, but looks an
# ordinary imported name up in the module's dict on every use (measured: dict lookups were the
# largest single cost of the compiled engine).
_ASTUPLE: Final = astuple
ORDER_ACCEPTED: Final = OrderAccepted
ORDER_CANCELED: Final = OrderCanceled
TRADE_EXECUTED: Final = TradeExecuted
LEVEL_UPDATED: Final = LevelUpdated
CANCELED_BY_USER: Final = CancelReason.USER
MARKET_REMAINDER: Final = CancelReason.MARKET_REMAINDER
IOC_REMAINDER: Final = CancelReason.IOC_REMAINDER


class Market:
    """One instrument's order book with its stops, expiries and auction state."""

    instrument: Instrument
    symbol: str
    bids: BookSide
    asks: BookSide
    status: int
    mode: int
    last_price: int
    next_priority: int
    order_count: int
    market_buys: list[Order]
    market_sells: list[Order]
    stops_up: list[tuple[int, int]]
    stops_down: list[tuple[int, int]]
    expiries: list[tuple[int, int]]
    auction_interval_ns: int
    next_uncross_ts: int
    mult: int
    min_qty: int
    max_qty: int
    min_notional: int
    band_bps: int
    max_book_orders: int
    initial_reference: int
    session_close_offset_ns: int
    trade_high: int
    trade_low: int

    def __init__(self, instrument: Instrument) -> None:
        self.instrument = instrument
        self.symbol = instrument.symbol
        self.bids = BookSide(BUY)
        self.asks = BookSide(SELL)
        self.status = OPEN
        self.mode = int(instrument.mode)
        self.last_price = 0
        self.next_priority = 1
        self.order_count = 0
        self.market_buys = []
        self.market_sells = []
        # (stop price, order id): triggers when the last price rises to the stop price
        self.stops_up = []
        # (-stop price, order id): triggers when the last price falls to the stop price
        self.stops_down = []
        self.expiries = []
        self.auction_interval_ns = instrument.auction_interval_ns
        self.next_uncross_ts = 0
        # The instrument's figures the hot path reads, as native ints (0 means none).
        self.mult = instrument.notional_per_tick_lot
        self.min_qty = instrument.min_qty_lots
        self.max_qty = instrument.max_qty_lots or 0
        self.min_notional = instrument.min_notional
        self.band_bps = instrument.price_band_bps
        self.max_book_orders = instrument.max_book_orders
        self.initial_reference = instrument.reference_price_ticks or 0
        self.session_close_offset_ns = instrument.session_close_offset_ns or 0
        # Highest and lowest trade price since the stop triggers last looked (0: no trade).
        self.trade_high = 0
        self.trade_low = 0

    def reference_price(self) -> int:
        """Last trade price, else the instrument's reference price, else 0 (none)."""
        return self.last_price or self.initial_reference

    def best_bid(self) -> int | None:
        return self.bids.best_price()

    def best_ask(self) -> int | None:
        return self.asks.best_price()


class MatchingEngine:
    """All markets of the venue and the index of live orders by id."""

    markets: dict[str, Market]
    orders: dict[int, Order]
    next_trade_id: int
    reporting: bool

    def __init__(self) -> None:
        self.markets = {}
        self.orders = {}
        self.next_trade_id = 1
        # Off only while replaying a journal nobody observes: the engine then leaves out the
        # events that only report (OrderAccepted, and LevelUpdated from continuous trading),
        # never one that settlement or the state depends on.
        self.reporting = True

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
            _schedule_uncross(market, ts)
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
            traded = self._uncross(market, ts, out)
            market.mode = CONTINUOUS
            if traded:
                self._run_triggers(market, ts, out)
        else:
            market.mode = CALL
            if interval is not None:
                market.auction_interval_ns = interval
            _schedule_uncross(market, ts)
        out.append(
            MarketStatusChanged(market.symbol, MarketStatus(market.status), MarketMode(market.mode))
        )
        if market.mode == CALL:
            self._indicative(market, out)
        return None

    def uncross(self, cmd: Uncross, ts: int, out: list[Event]) -> RejectReason | None:
        market = self.markets.get(cmd.symbol)
        if market is None:
            return RejectReason.UNKNOWN_SYMBOL
        if market.mode != CALL:
            return RejectReason.NOT_IN_CALL_MODE
        if market.status == HALTED:
            return RejectReason.MARKET_HALTED
        if self._uncross(market, ts, out):
            self._run_triggers(market, ts, out)
        self._indicative(market, out)
        return None

    def tick(self, ts: int, out: list[Event]) -> None:
        """Expire what is due and uncross the periodic auctions whose time has come."""
        # Sorted, not insertion order: a state restored from a snapshot must tick the same way.
        for symbol in sorted(self.markets):
            market = self.markets[symbol]
            expired = self._expire(market, ts, out)
            due = (
                market.mode == CALL
                and market.auction_interval_ns > 0
                and ts >= market.next_uncross_ts
            )
            if due:
                if market.status == OPEN and self._uncross(market, ts, out):
                    self._run_triggers(market, ts, out)
                _schedule_uncross(market, ts)
            if market.mode == CALL and (due or expired):
                self._indicative(market, out)

    def next_due_ns(self) -> int | None:
        """The earliest time at which a Tick would change anything (an expiry or a periodic
        auction's uncross), or None if no Tick ever would. An expiry entry may be stale (its
        order gone): a Tick then only drops it, which is harmless, and the time moves on."""
        due: int | None = None
        for market in self.markets.values():
            heap = market.expiries
            if heap and (due is None or heap[0][0] < due):
                due = heap[0][0]
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
        reason = _validate(market, order, ts)
        if reason is not None:
            out.append(OrderRejected(order_id, reason, cmd))
            return
        self._admit(market, order, ts, out, 0, 0)

    def check(self, order: Order, ts: int) -> RejectReason | None:
        """Every rule a new order (from `order_from_command`) must pass, first failure wins."""
        market = self.markets.get(order.symbol)
        if market is None:
            return RejectReason.UNKNOWN_SYMBOL
        return _validate(market, order, ts)

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
            order.expire_ts = _session_close(market, ts)
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
            self._add_stop(market, order)
            return
        trade_id_before = self.next_trade_id
        self._execute(market, order, ts, out)
        if self.next_trade_id != trade_id_before:
            self._run_triggers(market, ts, out)
        if market.mode == CALL:
            self._indicative(market, out)

    def market_limit(self, symbol: str, side: int) -> int:
        """The worst price a market order may reach now (see `_market_limit`)."""
        return _market_limit(self.markets[symbol], side)

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
        return _validate_replace(self.markets[order.symbol], order, cmd)

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
        self._remove_live(market, order, out)
        if market.mode == CALL:
            self._indicative(market, out)
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
            self._remove_live(market, order, out)
        for market in touched.values():
            if market.mode == CALL:
                self._indicative(market, out)

    def replace(self, cmd: ReplaceOrder, ts: int, out: list[Event]) -> RejectReason | None:
        order = self.orders.get(cmd.order_id)
        if order is None or order.account_id != cmd.account_id:
            return RejectReason.UNKNOWN_ORDER
        market = self.markets[order.symbol]
        reason = _validate_replace(market, order, cmd)
        if reason is not None:
            return reason
        new_qty = order.qty if cmd.qty_lots is None else cmd.qty_lots
        new_price = order.price if cmd.price_ticks is None else cmd.price_ticks
        new_remaining = new_qty - (order.qty - order.remaining)
        if order.order_type >= STOP_MARKET:
            self._replace_stop(market, order, cmd, new_qty, new_price, new_remaining, out)
            return None
        if new_price == order.price and new_remaining <= order.remaining:
            level = order.level
            assert level is not None
            new_visible = min(order.visible, new_remaining)
            level.qty -= order.visible - new_visible
            order.visible = new_visible
            order.qty = new_qty
            order.remaining = new_remaining
            out.append(_replaced(order, cmd, True))
            out.append(_level_event(market.symbol, order.side, level))
            if market.mode == CALL:
                self._indicative(market, out)
            return None
        # Loses priority: out of its level, new figures, then in again as if it had just
        # arrived (it may trade if the new price crosses).
        level = order.level
        assert level is not None
        self._unrest(market, level, order)
        if level.count == 0:
            (market.bids if order.side == BUY else market.asks).drop_level(level)
        order.price = new_price
        order.qty = new_qty
        order.remaining = new_remaining
        order.visible = new_remaining if order.peak == 0 else min(order.peak, new_remaining)
        out.append(_replaced(order, cmd, False))
        out.append(_level_event(market.symbol, order.side, level))
        trade_id_before = self.next_trade_id
        self._execute(market, order, ts, out)
        if self.next_trade_id != trade_id_before:
            self._run_triggers(market, ts, out)
        if market.mode == CALL:
            self._indicative(market, out)
        return None

    def _replace_stop(
        self,
        market: Market,
        order: Order,
        cmd: ReplaceOrder,
        new_qty: int,
        new_price: int,
        new_remaining: int,
        out: list[Event],
    ) -> None:
        order.qty = new_qty
        order.remaining = new_remaining
        order.visible = new_remaining if order.peak == 0 else min(order.peak, new_remaining)
        order.price = new_price
        if cmd.stop_price_ticks is not None and cmd.stop_price_ticks != order.stop_price:
            order.stop_price = cmd.stop_price_ticks
            push_stop(market, order)
        out.append(_replaced(order, cmd, True))

    # ------------------------------------------------------------------ execution

    def _execute(self, market: Market, order: Order, ts: int, out: list[Event]) -> None:
        """Match (continuous mode) and then rest, queue or cancel what is left of an order that
        is not in the index: a new order, a triggered stop, or a re-priced replace."""
        is_market = order.order_type == MARKET
        if market.mode == CALL:
            if is_market:
                order.is_market = True
                order.priority = market.next_priority
                market.next_priority += 1
                (market.market_buys if order.side == BUY else market.market_sells).append(order)
                self._index(market, order)
            else:
                self._rest(market, order, out)
            return
        if is_market:
            limit = _market_limit(market, order.side)
            if order.price and order.side == BUY and order.price < limit:
                limit = order.price
        else:
            limit = order.price
        if order.tif == FOK and not self._fok_fillable(market, order, limit):
            out.append(
                OrderCanceled(
                    order.order_id,
                    order.account_id,
                    order.symbol,
                    order.remaining,
                    CancelReason.FOK_NOT_FILLED,
                )
            )
            return
        self._match(market, order, limit, ts, out)
        if order.remaining == 0:
            return
        if is_market or order.tif == IOC or order.tif == FOK:
            reason = MARKET_REMAINDER if is_market else IOC_REMAINDER
            out.append(
                ORDER_CANCELED(
                    order.order_id, order.account_id, order.symbol, order.remaining, reason
                )
            )
            return
        self._rest(market, order, out)

    def _match(self, market: Market, taker: Order, limit: int, ts: int, out: list[Event]) -> None:
        is_buy = taker.side == BUY
        opposite = market.asks if is_buy else market.bids
        symbol = market.symbol
        while taker.remaining > 0:
            level = opposite.best()
            if level is None:
                break
            price = level.price
            if is_buy:
                if price > limit:
                    break
            elif price < limit:
                break
            if taker.has_budget and taker.budget < _lot_cost(market, price, taker.budget_fee_bps):
                break
            exhausted = self._match_level(market, level, taker, ts, out)
            if level.count == 0:
                opposite.drop_level(level)
            if self.reporting:
                out.append(
                    LEVEL_UPDATED(symbol, _SIDES[opposite.side], price, level.qty, level.count)
                )
            if exhausted:
                break

    def _match_level(
        self, market: Market, level: Level, taker: Order, ts: int, out: list[Event]
    ) -> bool:
        """Fill `taker` against one level, FIFO, until either is exhausted. The hot loop.
        Returns True when the taker's quote budget cannot buy one more lot."""
        price = level.price
        budget_exhausted = False
        lot_cost = 0
        lot_notional = 0
        if taker.has_budget:
            lot_notional = price * market.mult
            lot_cost = _lot_cost(market, price, taker.budget_fee_bps)
        symbol = market.symbol
        taker_id = taker.order_id
        taker_account = taker.account_id
        aggressor = _SIDES[taker.side]
        orders = self.orders
        traded = False
        maker = level.head
        while maker is not None and taker.remaining > 0:
            if maker.account_id == taker_account:
                maker = self._self_trade(market, level, maker, taker, out)
                continue
            fill = taker.remaining if taker.remaining < maker.visible else maker.visible
            if lot_cost:
                affordable = taker.budget // lot_cost
                if affordable == 0:
                    budget_exhausted = True
                    break
                fill = min(fill, affordable)
                notional = lot_notional * fill
                taker.budget -= notional - (-notional * taker.budget_fee_bps // BPS_DENOMINATOR)
            maker.visible -= fill
            maker.remaining -= fill
            level.qty -= fill
            taker.remaining -= fill
            trade_id = self.next_trade_id
            self.next_trade_id = trade_id + 1
            out.append(
                TRADE_EXECUTED(
                    trade_id,
                    symbol,
                    price,
                    fill,
                    maker.order_id,
                    taker_id,
                    maker.account_id,
                    taker_account,
                    aggressor,
                    ts,
                    maker.remaining,
                    taker.remaining,
                )
            )
            traded = True
            following = maker.next
            if maker.visible == 0:
                if maker.remaining == 0:
                    level.unlink(maker)
                    del orders[maker.order_id]
                    market.order_count -= 1
                else:
                    _refill(market, level, maker)
                    if following is None:
                        following = maker
            maker = following
        if traded:
            market.last_price = price
            _note_trade_price(market, price)
        return budget_exhausted

    def _self_trade(
        self, market: Market, level: Level, maker: Order, taker: Order, out: list[Event]
    ) -> Order | None:
        """Apply the taker's self-trade prevention against `maker`; returns the next maker to
        look at. Sets the taker's remaining to 0 when the taker is canceled."""
        mode = taker.stp
        following = maker.next
        if mode == STP_CANCEL_OLDEST or mode == STP_CANCEL_BOTH:
            out.append(
                OrderCanceled(
                    maker.order_id,
                    maker.account_id,
                    maker.symbol,
                    maker.remaining,
                    CancelReason.SELF_TRADE,
                )
            )
            self._unrest(market, level, maker)
            if mode == STP_CANCEL_OLDEST:
                return following
        if mode != STP_DECREMENT:
            out.append(
                OrderCanceled(
                    taker.order_id,
                    taker.account_id,
                    taker.symbol,
                    taker.remaining,
                    CancelReason.SELF_TRADE,
                )
            )
            taker.remaining = 0
            return following
        decrement = min(taker.remaining, maker.remaining)
        if maker.remaining == decrement:
            out.append(
                OrderCanceled(
                    maker.order_id,
                    maker.account_id,
                    maker.symbol,
                    decrement,
                    CancelReason.SELF_TRADE,
                )
            )
            self._unrest(market, level, maker)
        else:
            maker.remaining -= decrement
            shown = min(decrement, maker.visible)
            maker.visible -= shown
            level.qty -= shown
            out.append(
                OrderReduced(
                    maker.order_id, maker.account_id, maker.symbol, decrement, maker.remaining
                )
            )
            if maker.visible == 0:
                _refill(market, level, maker)
                if following is None:
                    following = maker
        if taker.remaining == decrement:
            out.append(
                OrderCanceled(
                    taker.order_id,
                    taker.account_id,
                    taker.symbol,
                    decrement,
                    CancelReason.SELF_TRADE,
                )
            )
            taker.remaining = 0
        else:
            taker.remaining -= decrement
            out.append(
                OrderReduced(
                    taker.order_id, taker.account_id, taker.symbol, decrement, taker.remaining
                )
            )
        return following

    def _fok_fillable(self, market: Market, taker: Order, limit: int) -> bool:
        """Dry run of the match: can the whole quantity fill within the limit, given the taker's
        self-trade prevention? Each level is replayed as `_match_level` would take it, with an
        iceberg's refill queued at the back (behind, perhaps, the taker's own order)."""
        is_buy = taker.side == BUY
        opposite = market.asks if is_buy else market.bids
        if is_buy:
            prices = sorted(price for price in opposite.levels if price <= limit)
        else:
            prices = sorted((price for price in opposite.levels if price >= limit), reverse=True)
        needed = taker.remaining
        for price in prices:
            # [account, shown, remaining, peak] per order, FIFO
            queue = deque(
                [maker.account_id, maker.visible, maker.remaining, maker.peak]
                for maker in opposite.levels[price].orders()
            )
            while queue:
                account_id, shown, remaining, peak = queue.popleft()
                if account_id == taker.account_id:
                    if taker.stp != STP_CANCEL_OLDEST:
                        return False
                    continue  # canceled by the match, nothing traded
                fill = min(needed, shown)
                needed -= fill
                if needed == 0:
                    return True
                remaining -= fill
                if remaining > 0:
                    queue.append([account_id, min(peak, remaining), remaining, peak])
        return False

    # ------------------------------------------------------------------ book upkeep

    def _index(self, market: Market, order: Order) -> None:
        self.orders[order.order_id] = order
        market.order_count += 1
        if order.expire_ts:
            heappush(market.expiries, (order.expire_ts, order.order_id))

    def _rest(self, market: Market, order: Order, out: list[Event]) -> None:
        book_side = market.bids if order.side == BUY else market.asks
        level = book_side.level_for(order.price)
        # What shows is set on entering the book: matching as a taker only counts `remaining`.
        peak = order.peak
        order.visible = order.remaining if peak == 0 or peak > order.remaining else peak
        order.priority = market.next_priority
        market.next_priority += 1
        level.append(order)
        self._index(market, order)
        if self.reporting:
            out.append(
                LEVEL_UPDATED(
                    market.symbol, _SIDES[order.side], order.price, level.qty, level.count
                )
            )

    def _unrest(self, market: Market, level: Level, order: Order) -> None:
        """Take a resting order out of its level and the index (the level may become empty;
        the caller drops it and reports it)."""
        level.unlink(order)
        del self.orders[order.order_id]
        market.order_count -= 1

    def _remove_live(self, market: Market, order: Order, out: list[Event]) -> None:
        """Remove a live order wherever it lives (level, auction queue or stop book) and report
        the level change, if any."""
        level = order.level
        if level is not None:
            book_side = market.bids if order.side == BUY else market.asks
            self._unrest(market, level, order)
            if level.count == 0:
                book_side.drop_level(level)
            if self.reporting:
                out.append(_level_event(market.symbol, order.side, level))
            return
        if order.is_market:
            queue = market.market_buys if order.side == BUY else market.market_sells
            queue.remove(order)
        del self.orders[order.order_id]
        market.order_count -= 1

    def _add_stop(self, market: Market, order: Order) -> None:
        self._index(market, order)
        push_stop(market, order)

    def _run_triggers(self, market: Market, ts: int, out: list[Event]) -> None:
        """Trigger every stop the last price has reached, in order id (placement) order; each
        triggered order may trade and trigger more, all inside this command."""
        pending: list[int] = []
        self._collect_triggered(market, pending)
        while pending:
            order_id = heappop(pending)
            order = self.orders.get(order_id)
            if order is None or order.order_type < STOP_MARKET:
                continue
            del self.orders[order_id]
            market.order_count -= 1
            out.append(StopTriggered(order_id, order.account_id, order.symbol, market.last_price))
            has_limit = order.order_type == STOP_LIMIT or order.order_type == TAKE_PROFIT_LIMIT
            order.order_type = LIMIT if has_limit else MARKET
            trade_id_before = self.next_trade_id
            self._execute(market, order, ts, out)
            if self.next_trade_id != trade_id_before:
                self._collect_triggered(market, pending)

    def _collect_triggered(self, market: Market, pending: list[int]) -> None:
        """Move every stop reached by a trade since the last look into `pending`: rising
        triggers by the highest price traded, falling ones by the lowest."""
        high = market.trade_high
        low = market.trade_low
        market.trade_high = 0
        market.trade_low = 0
        if high == 0:
            return
        rising = market.stops_up
        while rising and rising[0][0] <= high:
            stop, order_id = heappop(rising)
            self._pend(order_id, stop, pending)
        falling = market.stops_down
        while falling and -falling[0][0] >= low:
            negative_stop, order_id = heappop(falling)
            self._pend(order_id, -negative_stop, pending)

    def _pend(self, order_id: int, stop: int, pending: list[int]) -> None:
        """Queue a triggered stop unless its heap entry is stale (canceled, or re-priced)."""
        order = self.orders.get(order_id)
        if order is not None and order.order_type >= STOP_MARKET and order.stop_price == stop:
            heappush(pending, order_id)

    def _expire(self, market: Market, ts: int, out: list[Event]) -> bool:
        heap = market.expiries
        expired = False
        while heap and heap[0][0] <= ts:
            expire_ts, order_id = heappop(heap)
            order = self.orders.get(order_id)
            if order is None or order.expire_ts != expire_ts:
                continue
            out.append(
                OrderExpired(order.order_id, order.account_id, order.symbol, order.remaining)
            )
            self._remove_live(market, order, out)
            expired = True
        return expired

    # ------------------------------------------------------------------ call auctions

    def _clearing(self, market: Market) -> ClearingResult:
        bids = [(lvl.price, _total(lvl)) for lvl in market.bids.levels.values()]
        asks = [(lvl.price, _total(lvl)) for lvl in market.asks.levels.values()]
        # A capped market buy (see Order) bids like a limit order at its cap.
        bids.extend((order.price, order.remaining) for order in market.market_buys if order.price)
        market_buy = sum(order.remaining for order in market.market_buys if not order.price)
        market_sell = sum(order.remaining for order in market.market_sells)
        reference = market.reference_price()
        return clearing_price(bids, asks, market_buy, market_sell, reference or None)

    def _indicative(self, market: Market, out: list[Event]) -> None:
        result = self._clearing(market)
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

    def _uncross(self, market: Market, ts: int, out: list[Event]) -> bool:
        """Execute everything that crosses at the uniform clearing price, in price-time
        priority (market orders first); cancel unfilled market orders. Returns whether anything
        traded: the caller runs the stop triggers, once the market is in its next mode."""
        touched: dict[tuple[int, int], Level] = {}
        price, buys, sells = self._auction_crossing(market, out, touched)
        volume = 0
        trades = 0
        i = 0
        j = 0
        while price is not None and i < len(buys) and j < len(sells):
            buy = buys[i]
            sell = sells[j]
            qty = min(buy.remaining, sell.remaining)
            self._auction_fill(market, buy, qty, touched)
            self._auction_fill(market, sell, qty, touched)
            maker, taker = (buy, sell) if buy.order_id < sell.order_id else (sell, buy)
            trade_id = self.next_trade_id
            self.next_trade_id = trade_id + 1
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
                self._drop_from_auction(market, buy, touched)
                i += 1
            if sell.remaining == 0:
                self._drop_from_auction(market, sell, touched)
                j += 1
        if trades and price is not None:
            market.last_price = price
            _note_trade_price(market, price)
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
                self._remove_live(market, order, out)
        for (side, _), level in sorted(touched.items(), key=_touched_key):
            out.append(_level_event(market.symbol, side, level))
        out.append(AuctionUncrossed(market.symbol, price if trades else None, volume, trades))
        return trades > 0

    def _auction_crossing(
        self, market: Market, out: list[Event], touched: dict[tuple[int, int], Level]
    ) -> tuple[int | None, list[Order], list[Order]]:
        """The clearing price and the orders that trade at it, in priority order. If pairing
        them would match an account with itself, the newer of the two is canceled (a self-trade
        never prints) and the price is found again without it: so the uncross never leaves
        a crossed book behind."""
        while True:
            price = self._clearing(market).price
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
            self._drop_from_auction(market, newer, touched)

    def _auction_fill(
        self, market: Market, order: Order, qty: int, touched: dict[tuple[int, int], Level]
    ) -> None:
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
            _refill(market, level, order)

    def _drop_from_auction(
        self, market: Market, order: Order, touched: dict[tuple[int, int], Level]
    ) -> None:
        level = order.level
        if level is not None:
            touched[(order.side, level.price)] = level
            self._unrest(market, level, order)
            if level.count == 0:
                (market.bids if order.side == BUY else market.asks).drop_level(level)
            return
        (market.market_buys if order.side == BUY else market.market_sells).remove(order)
        del self.orders[order.order_id]
        market.order_count -= 1

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


# ---------------------------------------------------------------------- rules as functions


def _validate(market: Market, order: Order, ts: int) -> RejectReason | None:
    """Every check of a new order that needs no book walk, in a fixed order; first failure wins.
    The order's optional fields still hold ABSENT where the command left them out."""
    if market.status == HALTED:
        return RejectReason.MARKET_HALTED
    qty = order.qty
    if qty <= 0:
        return RejectReason.INVALID_QUANTITY
    if qty < market.min_qty:
        return RejectReason.QUANTITY_BELOW_MIN
    if qty > MAX_QTY_LOTS or (market.max_qty and qty > market.max_qty):
        return RejectReason.QUANTITY_ABOVE_MAX
    order_type = order.order_type
    priced = order_type == LIMIT or order_type == STOP_LIMIT or order_type == TAKE_PROFIT_LIMIT
    price = order.price
    if priced:
        if price == ABSENT:
            return RejectReason.PRICE_REQUIRED
        if price <= 0 or price > MAX_PRICE_TICKS:
            return RejectReason.INVALID_PRICE
    elif price != ABSENT:
        return RejectReason.PRICE_NOT_ALLOWED
    stop = order.stop_price
    if order_type >= STOP_MARKET:
        if stop == ABSENT:
            return RejectReason.STOP_PRICE_REQUIRED
        if stop <= 0 or stop > MAX_PRICE_TICKS:
            return RejectReason.INVALID_PRICE
    elif stop != ABSENT:
        return RejectReason.STOP_PRICE_NOT_ALLOWED
    reason = _validate_time_in_force(market, order, priced, ts)
    if reason is not None:
        return reason
    if order.budget != ABSENT:
        reason = _validate_quote_qty(market, order)
        if reason is not None:
            return reason
    display = order.peak
    if display != ABSENT and (not priced or display <= 0 or display > qty):
        return RejectReason.INVALID_DISPLAY_QUANTITY
    notional_price = price if priced else market.reference_price()
    if notional_price and notional_price * qty * market.mult < market.min_notional:
        return RejectReason.NOTIONAL_BELOW_MIN
    if priced and not _within_band(market, price):
        return RejectReason.PRICE_OUT_OF_BAND
    if stop != ABSENT and market.last_price:
        if _stop_reached(order_type, order.side, stop, market.last_price):
            return RejectReason.STOP_WOULD_TRIGGER_IMMEDIATELY
    if market.order_count >= market.max_book_orders:
        return RejectReason.BOOK_FULL
    if order.post_only and market.mode == CONTINUOUS and priced:
        if _crosses(market, order.side, price):
            return RejectReason.POST_ONLY_WOULD_TAKE
    return None


def _validate_time_in_force(
    market: Market, order: Order, priced: bool, ts: int
) -> RejectReason | None:
    tif = order.tif
    order_type = order.order_type
    immediate = tif == IOC or tif == FOK
    if order_type == MARKET and (tif == GTD or tif == DAY):
        return RejectReason.INVALID_TIME_IN_FORCE
    expire = order.expire_ts
    if tif == GTD:
        if expire == ABSENT:
            return RejectReason.EXPIRE_TIME_REQUIRED
        if expire <= ts:
            return RejectReason.EXPIRE_TIME_IN_PAST
    elif expire != ABSENT:
        return RejectReason.EXPIRE_TIME_NOT_ALLOWED
    if order.post_only and (order_type != LIMIT or immediate):
        return RejectReason.POST_ONLY_NOT_ALLOWED
    if order.peak != ABSENT and immediate:
        return RejectReason.INVALID_DISPLAY_QUANTITY
    if market.mode == CALL and (tif == FOK or (tif == IOC and priced)):
        return RejectReason.NOT_ALLOWED_IN_AUCTION
    return None


def _validate_quote_qty(market: Market, order: Order) -> RejectReason | None:
    """A quote budget bounds what a market-type buy spends, while it matches continuously."""
    order_type = order.order_type
    market_type = order_type == MARKET or order_type == STOP_MARKET or order_type == TAKE_PROFIT
    if not market_type or order.side != BUY:
        return RejectReason.QUOTE_QTY_NOT_ALLOWED
    if order.budget <= 0:
        return RejectReason.INVALID_AMOUNT
    if order.tif == FOK:
        return RejectReason.INVALID_TIME_IN_FORCE
    if market.mode == CALL:
        return RejectReason.NOT_ALLOWED_IN_AUCTION
    return None


def _validate_replace(market: Market, order: Order, cmd: ReplaceOrder) -> RejectReason | None:
    if market.status == HALTED:
        return RejectReason.MARKET_HALTED
    if order.is_market:
        return RejectReason.NOT_ALLOWED_IN_AUCTION
    pending_stop = order.order_type >= STOP_MARKET
    has_limit = order.order_type in (LIMIT, STOP_LIMIT, TAKE_PROFIT_LIMIT)
    if cmd.price_ticks is not None:
        if not has_limit:
            return RejectReason.PRICE_NOT_ALLOWED
        if cmd.price_ticks <= 0 or cmd.price_ticks > MAX_PRICE_TICKS:
            return RejectReason.INVALID_PRICE
        if cmd.price_ticks != order.price and not _within_band(market, cmd.price_ticks):
            return RejectReason.PRICE_OUT_OF_BAND
    if cmd.stop_price_ticks is not None:
        if not pending_stop:
            return RejectReason.STOP_PRICE_NOT_ALLOWED
        if cmd.stop_price_ticks <= 0 or cmd.stop_price_ticks > MAX_PRICE_TICKS:
            return RejectReason.INVALID_PRICE
        if market.last_price and _stop_reached(
            order.order_type, order.side, cmd.stop_price_ticks, market.last_price
        ):
            return RejectReason.STOP_WOULD_TRIGGER_IMMEDIATELY
    new_qty = order.qty if cmd.qty_lots is None else cmd.qty_lots
    if new_qty <= 0:
        return RejectReason.INVALID_QUANTITY
    if new_qty > MAX_QTY_LOTS:
        return RejectReason.QUANTITY_ABOVE_MAX
    if new_qty <= order.qty - order.remaining:
        return RejectReason.QUANTITY_BELOW_FILLED
    if new_qty < market.min_qty:
        return RejectReason.QUANTITY_BELOW_MIN
    if market.max_qty and new_qty > market.max_qty:
        return RejectReason.QUANTITY_ABOVE_MAX
    new_price = order.price if cmd.price_ticks is None else cmd.price_ticks
    new_stop = order.stop_price if cmd.stop_price_ticks is None else cmd.stop_price_ticks
    if new_qty == order.qty and new_price == order.price and new_stop == order.stop_price:
        return RejectReason.NOTHING_TO_CHANGE
    if has_limit and new_price * new_qty * market.mult < market.min_notional:
        return RejectReason.NOTIONAL_BELOW_MIN
    if order.post_only and market.mode == CONTINUOUS and new_price != order.price:
        if _crosses(market, order.side, new_price):
            return RejectReason.POST_ONLY_WOULD_TAKE
    return None


def _crosses(market: Market, side: int, price: int) -> bool:
    if side == BUY:
        best_ask = market.asks.best_price()
        return best_ask is not None and price >= best_ask
    best_bid = market.bids.best_price()
    return best_bid is not None and price <= best_bid


def _within_band(market: Market, price: int) -> bool:
    band = market.band_bps
    if band == 0:
        return True
    reference = market.reference_price()
    if reference == 0:
        return True
    low = -(-reference * (BPS_DENOMINATOR - band) // BPS_DENOMINATOR)
    high = reference * (BPS_DENOMINATOR + band) // BPS_DENOMINATOR
    return low <= price <= high


def _market_limit(market: Market, side: int) -> int:
    """The worst price a market order may reach: the edge of the price band around the
    reference price (the touch, if there has been no trade), or no limit without a band."""
    band = market.band_bps
    if band == 0:
        return NO_PRICE_CAP if side == BUY else 0
    reference = market.reference_price()
    if reference == 0:
        touch = market.asks.best_price() if side == BUY else market.bids.best_price()
        if touch is None:
            return NO_PRICE_CAP if side == BUY else 0
        reference = touch
    if side == BUY:
        return reference * (BPS_DENOMINATOR + band) // BPS_DENOMINATOR
    return -(-reference * (BPS_DENOMINATOR - band) // BPS_DENOMINATOR)


def _stop_reached(order_type: int, side: int, stop: int, last: int) -> bool:
    if _triggers_upward(order_type, side):
        return last >= stop
    return last <= stop


def _triggers_upward(order_type: int, side: int) -> bool:
    """A buy stop and a sell take-profit wait for the price to rise; the others for a fall."""
    is_stop = order_type == STOP_MARKET or order_type == STOP_LIMIT
    return is_stop == (side == BUY)


def push_stop(market: Market, order: Order) -> None:
    if _triggers_upward(order.order_type, order.side):
        heappush(market.stops_up, (order.stop_price, order.order_id))
    else:
        heappush(market.stops_down, (-order.stop_price, order.order_id))


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


def _note_trade_price(market: Market, price: int) -> None:
    """Widen the range of prices traded since the stop triggers last looked: a stop triggers
    on any trade at or through its price, not only on the last one of a sweep."""
    market.trade_high = max(market.trade_high, price)
    if market.trade_low == 0 or price < market.trade_low:
        market.trade_low = price


def _walk_cost(
    market: Market, level: Level, needed: int, account_id: int, fee_bps: int
) -> tuple[int, int]:
    """What a market buy pays for up to `needed` lots of other accounts at one level, and the
    lots it still needs after it."""
    per_lot = _lot_cost(market, level.price, fee_bps)
    cost = 0
    maker = level.head
    while maker is not None and needed > 0:
        if maker.account_id != account_id:
            take = min(needed, maker.remaining)
            cost += take * per_lot
            needed -= take
        maker = maker.next
    return cost, needed


def _lot_cost(market: Market, price: int, fee_bps: int) -> int:
    """What one lot at `price` costs a budgeted buy: notional plus its fee, rounded up (the
    same per-lot bound the ledger reserves, ledger/fees.py)."""
    lot_notional = price * market.mult
    return lot_notional - (-lot_notional * fee_bps // BPS_DENOMINATOR)


def _refill(market: Market, level: Level, order: Order) -> None:
    """An iceberg whose shown part is gone shows its next slice at the back of the level."""
    level.unlink(order)
    order.visible = min(order.peak, order.remaining)
    order.priority = market.next_priority
    market.next_priority += 1
    level.append(order)


def _session_close(market: Market, ts: int) -> int:
    """When a DAY order placed at `ts` expires: the instrument's next session close, or the end
    of the UTC day when the instrument sets none."""
    close = ts - ts % NS_PER_DAY + market.session_close_offset_ns
    if close <= ts:
        close += NS_PER_DAY
    return close


def _schedule_uncross(market: Market, ts: int) -> None:
    interval = market.auction_interval_ns
    market.next_uncross_ts = (ts // interval + 1) * interval if interval > 0 else 0


def _total(level: Level) -> int:
    total = 0
    order = level.head
    while order is not None:
        total += order.remaining
        order = order.next
    return total


def _level_event(symbol: str, side: int, level: Level) -> LevelUpdated:
    return LEVEL_UPDATED(symbol, _SIDES[side], level.price, level.qty, level.count)


def _replaced(order: Order, cmd: ReplaceOrder, priority_kept: bool) -> OrderReplaced:
    has_limit = order.order_type in (LIMIT, STOP_LIMIT, TAKE_PROFIT_LIMIT)
    pending_stop = order.order_type >= STOP_MARKET
    return OrderReplaced(
        order.order_id,
        order.account_id,
        order.symbol,
        order.price if has_limit else None,
        order.stop_price if pending_stop else None,
        order.qty,
        order.remaining,
        priority_kept,
        cmd,
    )


def _order_id_of(order: Order) -> int:
    return order.order_id


def _touched_key(item: tuple[tuple[int, int], Level]) -> tuple[int, int]:
    (side, price), _ = item
    return (side, -price if side == BUY else price)
