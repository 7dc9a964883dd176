"""A deliberately naive reference order book for one continuous market (DESIGN.md §6).

It exists only to be compared with the real engine, so it is written to be obviously right
rather than fast:
- The book is one plain list of resting orders. Every question ("what is the best ask?",
  "who is next in the queue?") is answered by filtering and sorting that list from scratch.
- Queue position is an `arrival` stamp from a counter; a refill or a lost priority simply takes
  a new stamp. Sorting by (price, arrival) *is* price-time priority.
- FOK is decided by matching a deep copy of the whole book and looking at what filled, so it
  needs no separate "dry run" logic that could disagree with matching.

Supported: LIMIT and MARKET (no price band, so a market order is bounded by nothing), GTC, IOC,
FOK, post-only, icebergs, cancel, replace and the four self-trade prevention modes. Not
supported: stops, GTD/DAY, call auctions, halts, validation of order shape (the caller only
sends well-formed orders).

Rules, each from DESIGN.md §6 or the documentation of `venue.engine.matching`:
- Every fill is at the maker's price; the best price level is exhausted before the next.
- Only the displayed part of an iceberg trades per pass; when it is used up the order shows
  its next slice (at most `display` lots) at the back of its level, at once.
- Self-trade prevention follows the incoming order's mode and never prints a trade:
  cancel-newest cancels the incoming remainder; cancel-oldest cancels the resting order and
  carries on; cancel-both cancels both; decrement-and-cancel takes the smaller remaining
  quantity off both and cancels the order(s) left with nothing.
- DESIGN.md does not say which part of a resting iceberg a decrement takes. The reference
  follows the convention the engine documents for auction fills: displayed part first, then
  the hidden reserve, and a used-up slice is refilled at the back of the level. (The other
  reading, "a reduction keeps priority and eats the hidden reserve first" as a replace does,
  is equally defensible; the rulebook should pick one.)
- Post-only is rejected if its price reaches the best opposite price, whoever's order it is.
- What is left of a market order is canceled (MARKET_REMAINDER), of an IOC or FOK order too
  (IOC_REMAINDER); a FOK that cannot fill completely is canceled before any fill
  (FOK_NOT_FILLED).
- Replace: `qty` is the new total quantity, filled part included. Reducing quantity at the
  same price keeps the queue place; a new price or a larger quantity loses it, and the order
  then behaves as if it had just arrived (it may trade).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import NamedTuple

from venue.domain.commands import PlaceOrder
from venue.domain.reject import RejectReason
from venue.domain.values import CancelReason, OrderType, SelfTradePrevention, Side, TimeInForce


class Trade(NamedTuple):
    price: int
    qty: int
    maker_order_id: int
    taker_order_id: int
    maker_account_id: int
    taker_account_id: int
    maker_remaining: int
    taker_remaining: int


class Outcome(NamedTuple):
    """What happened to one order besides trading, at the granularity both sides can state.

    kind is one of accepted, rejected, canceled, reduced, replaced; `detail` is the reject or
    cancel reason, or "kept"/"lost" for the priority of a replace; `lots` and `remaining` are
    the quantities the matching event carries (0 when it carries none)."""

    kind: str
    order_id: int
    detail: str
    lots: int
    remaining: int


@dataclass
class StepResult:
    trades: list[Trade] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)

    def filled(self, order_id: int) -> int:
        return sum(trade.qty for trade in self.trades if trade.taker_order_id == order_id)


@dataclass
class RefOrder:
    order_id: int
    account_id: int
    side: Side
    price: int | None  # None: a market order (never rests)
    qty: int  # total quantity, filled part included
    remaining: int
    visible: int
    display: int | None  # iceberg slice size, None for a plain order
    tif: TimeInForce
    post_only: bool
    stp: SelfTradePrevention
    arrival: int = 0  # queue position among orders at the same price

    def slice_size(self) -> int:
        """What the order shows when it (re)enters a level."""
        return self.remaining if self.display is None else min(self.display, self.remaining)


Level = tuple[int, list[tuple[int, int, int]]]  # (price, [(order_id, visible, remaining)])


def _crosses(taker_side: Side, limit: int | None, maker_price: int) -> bool:
    if limit is None:
        return True
    return maker_price <= limit if taker_side == Side.BUY else maker_price >= limit


class ReferenceBook:
    def __init__(self) -> None:
        self.resting: list[RefOrder] = []
        self.clock = 0

    # ------------------------------------------------------------------ looking

    def queue(self, side: Side) -> list[RefOrder]:
        """The resting orders of one side in priority order: best price first, then arrival."""
        orders = [order for order in self.resting if order.side == side]
        if side == Side.BUY:
            return sorted(orders, key=lambda order: (-_price(order), order.arrival))
        return sorted(orders, key=lambda order: (_price(order), order.arrival))

    def levels(self, side: Side) -> list[Level]:
        out: list[Level] = []
        for order in self.queue(side):
            entry = (order.order_id, order.visible, order.remaining)
            if out and out[-1][0] == order.price:
                out[-1][1].append(entry)
            else:
                out.append((_price(order), [entry]))
        return out

    def find(self, order_id: int) -> RefOrder | None:
        for order in self.resting:
            if order.order_id == order_id:
                return order
        return None

    def live_ids(self) -> list[int]:
        return sorted(order.order_id for order in self.resting)

    def would_take(self, side: Side, price: int | None) -> bool:
        opposite = self.queue(side.opposite)
        return bool(opposite) and _crosses(side, price, _price(opposite[0]))

    # ------------------------------------------------------------------ commands

    def place(self, order_id: int, cmd: PlaceOrder) -> StepResult:
        result = StepResult()
        price = cmd.price_ticks if cmd.order_type == OrderType.LIMIT else None
        if cmd.post_only and self.would_take(cmd.side, price):
            result.outcomes.append(
                Outcome("rejected", order_id, RejectReason.POST_ONLY_WOULD_TAKE.value, 0, 0)
            )
            return result
        taker = RefOrder(
            order_id=order_id,
            account_id=cmd.account_id,
            side=cmd.side,
            price=price,
            qty=cmd.qty_lots,
            remaining=cmd.qty_lots,
            visible=0,
            display=cmd.display_qty_lots,
            tif=cmd.tif,
            post_only=cmd.post_only,
            stp=cmd.stp,
        )
        result.outcomes.append(Outcome("accepted", order_id, "", cmd.qty_lots, cmd.qty_lots))
        self._execute(taker, result)
        return result

    def cancel(self, account_id: int, order_id: int) -> StepResult:
        result = StepResult()
        order = self.find(order_id)
        if order is None or order.account_id != account_id:
            result.outcomes.append(
                Outcome("rejected", order_id, RejectReason.UNKNOWN_ORDER.value, 0, 0)
            )
            return result
        self._cancel(order, CancelReason.USER, result)
        return result

    def replace(
        self, account_id: int, order_id: int, qty: int | None, price: int | None
    ) -> StepResult:
        result = StepResult()
        order = self.find(order_id)
        reason = self._replace_problem(account_id, order, qty, price)
        if reason is not None or order is None:
            reason = reason or RejectReason.UNKNOWN_ORDER
            result.outcomes.append(Outcome("rejected", order_id, reason.value, 0, 0))
            return result
        filled = order.qty - order.remaining
        new_qty = order.qty if qty is None else qty
        new_price = order.price if price is None else price
        new_remaining = new_qty - filled
        if new_price == order.price and new_remaining <= order.remaining:
            order.qty = new_qty
            order.remaining = new_remaining
            order.visible = min(order.visible, new_remaining)
            result.outcomes.append(Outcome("replaced", order_id, "kept", new_qty, new_remaining))
            return result
        self.resting.remove(order)
        order.qty = new_qty
        order.remaining = new_remaining
        order.price = new_price
        result.outcomes.append(Outcome("replaced", order_id, "lost", new_qty, new_remaining))
        self._execute(order, result)
        return result

    def _replace_problem(
        self, account_id: int, order: RefOrder | None, qty: int | None, price: int | None
    ) -> RejectReason | None:
        """The first reason to refuse a replace, checked in the engine's order."""
        if order is None or order.account_id != account_id:
            return RejectReason.UNKNOWN_ORDER
        new_qty = order.qty if qty is None else qty
        new_price = order.price if price is None else price
        if new_qty <= 0:
            return RejectReason.INVALID_QUANTITY
        if new_qty <= order.qty - order.remaining:
            return RejectReason.QUANTITY_BELOW_FILLED
        if new_qty == order.qty and new_price == order.price:
            return RejectReason.NOTHING_TO_CHANGE
        if order.post_only and new_price != order.price and self.would_take(order.side, new_price):
            return RejectReason.POST_ONLY_WOULD_TAKE
        return None

    # ------------------------------------------------------------------ matching

    def _execute(self, taker: RefOrder, result: StepResult) -> None:
        """Match an order that is not in the book, then rest or cancel what is left."""
        if taker.tif == TimeInForce.FOK and not self._fok_fills(taker):
            self._report_cancel(taker, CancelReason.FOK_NOT_FILLED, result)
            return
        self._match(taker, result)
        if taker.remaining == 0:
            return
        if taker.price is None:
            self._report_cancel(taker, CancelReason.MARKET_REMAINDER, result)
        elif taker.tif in (TimeInForce.IOC, TimeInForce.FOK):
            self._report_cancel(taker, CancelReason.IOC_REMAINDER, result)
        else:
            self._rest(taker)

    def _fok_fills(self, taker: RefOrder) -> bool:
        """All or nothing: match a copy of everything and see whether it all filled."""
        trial_book = copy.deepcopy(self)
        trial_taker = copy.deepcopy(taker)
        trial = StepResult()
        trial_book._match(trial_taker, trial)
        return trial.filled(taker.order_id) == taker.remaining

    def _match(self, taker: RefOrder, result: StepResult) -> None:
        while taker.remaining > 0:
            opposite = self.queue(taker.side.opposite)
            if not opposite or not _crosses(taker.side, taker.price, _price(opposite[0])):
                return
            maker = opposite[0]
            if maker.account_id == taker.account_id:
                self._prevent_self_trade(maker, taker, result)
                continue
            fill = min(taker.remaining, maker.visible)
            maker.visible -= fill
            maker.remaining -= fill
            taker.remaining -= fill
            result.trades.append(
                Trade(
                    _price(maker),
                    fill,
                    maker.order_id,
                    taker.order_id,
                    maker.account_id,
                    taker.account_id,
                    maker.remaining,
                    taker.remaining,
                )
            )
            if maker.remaining == 0:
                self.resting.remove(maker)
            elif maker.visible == 0:
                self._rest(maker)  # refill: the next slice goes to the back of the level

    def _prevent_self_trade(self, maker: RefOrder, taker: RefOrder, result: StepResult) -> None:
        mode = taker.stp
        if mode == SelfTradePrevention.CANCEL_NEWEST:
            self._cancel_taker(taker, result)
        elif mode == SelfTradePrevention.CANCEL_OLDEST:
            self._cancel(maker, CancelReason.SELF_TRADE, result)
        elif mode == SelfTradePrevention.CANCEL_BOTH:
            self._cancel(maker, CancelReason.SELF_TRADE, result)
            self._cancel_taker(taker, result)
        else:
            decrement = min(maker.remaining, taker.remaining)
            if maker.remaining == decrement:
                self._cancel(maker, CancelReason.SELF_TRADE, result)
            else:
                maker.remaining -= decrement
                maker.visible -= min(decrement, maker.visible)
                if maker.visible == 0:
                    self._rest(maker)  # refill: the next slice goes to the back of the level
                result.outcomes.append(
                    Outcome("reduced", maker.order_id, "", decrement, maker.remaining)
                )
            if taker.remaining == decrement:
                self._cancel_taker(taker, result)
            else:
                taker.remaining -= decrement
                result.outcomes.append(
                    Outcome("reduced", taker.order_id, "", decrement, taker.remaining)
                )

    # ------------------------------------------------------------------ upkeep

    def _rest(self, order: RefOrder) -> None:
        """Put an order (new, re-priced or refilled) at the back of its level."""
        if order in self.resting:
            self.resting.remove(order)
        order.visible = order.slice_size()
        self.clock += 1
        order.arrival = self.clock
        self.resting.append(order)

    def _cancel(self, order: RefOrder, reason: CancelReason, result: StepResult) -> None:
        self.resting.remove(order)
        self._report_cancel(order, reason, result)

    def _cancel_taker(self, taker: RefOrder, result: StepResult) -> None:
        self._report_cancel(taker, CancelReason.SELF_TRADE, result)
        taker.remaining = 0

    @staticmethod
    def _report_cancel(order: RefOrder, reason: CancelReason, result: StepResult) -> None:
        result.outcomes.append(Outcome("canceled", order.order_id, reason.name, order.remaining, 0))


def _price(order: RefOrder) -> int:
    assert order.price is not None, "a market order never rests"
    return order.price
