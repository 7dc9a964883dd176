"""Instruments: what is traded, in which units, under which limits.

A price is an integer number of ticks, a quantity an integer number of lots, money an integer
number of minor units of its asset (10**-decimals). The instrument precomputes the integer
multipliers that turn ticks and lots into minor units, so the core multiplies ints only:

    notional (quote minor units) = price_ticks * qty_lots * notional_per_tick_lot
    base amount (base minor units) = qty_lots * base_units_per_lot

`Instrument.create` derives those from decimal strings and refuses an instrument whose tick
or lot cannot be expressed exactly in its assets' minor units, or whose integers could not be
held by the journal, the snapshots and the SQL read model (`instrument_range_problem`: every
one within the venue's 2**62 bounds). The range check belongs to creation, at the edge, and
not to `instrument_problem`, which the core runs on replay: journals written before it keep
replaying to the same state.
"""

from __future__ import annotations

from decimal import Decimal, DecimalException, InvalidOperation

import msgspec

from venue.domain.exact import EXACT
from venue.domain.values import (
    BPS_DENOMINATOR,
    MAX_AMOUNT,
    MAX_PRICE_TICKS,
    MAX_QTY_LOTS,
    NS_PER_DAY,
    MarketMode,
)

MAX_BOOK_ORDERS = 10_000_000


class InstrumentError(ValueError):
    """An instrument definition that cannot be traded exactly."""


class Instrument(msgspec.Struct, frozen=True, gc=False, array_like=True):
    symbol: str
    base_asset: str
    quote_asset: str
    tick_size: str
    lot_size: str
    base_decimals: int
    quote_decimals: int
    notional_per_tick_lot: int
    base_units_per_lot: int
    min_qty_lots: int = 1
    max_qty_lots: int | None = None
    min_notional: int = 0
    price_band_bps: int = 0
    mode: MarketMode = MarketMode.CONTINUOUS
    auction_interval_ns: int = 0
    session_close_offset_ns: int | None = None
    reference_price_ticks: int | None = None
    max_book_orders: int = 1_000_000

    @classmethod
    def create(
        cls,
        symbol: str,
        base_asset: str,
        quote_asset: str,
        tick_size: str,
        lot_size: str,
        base_decimals: int,
        quote_decimals: int,
        *,
        min_qty_lots: int = 1,
        max_qty_lots: int | None = None,
        min_notional: int = 0,
        price_band_bps: int = 0,
        mode: MarketMode = MarketMode.CONTINUOUS,
        auction_interval_ns: int = 0,
        session_close_offset_ns: int | None = None,
        reference_price_ticks: int | None = None,
        max_book_orders: int = 1_000_000,
    ) -> Instrument:
        tick = _positive_decimal("tick_size", tick_size)
        lot = _positive_decimal("lot_size", lot_size)
        if not (0 <= base_decimals <= 18 and 0 <= quote_decimals <= 18):
            raise InstrumentError("asset decimals must lie between 0 and 18")
        try:
            notional = EXACT.multiply(EXACT.multiply(tick, lot), EXACT.scaleb(1, quote_decimals))
            base_units = EXACT.multiply(lot, EXACT.scaleb(1, base_decimals))
        except DecimalException:
            raise InstrumentError("tick_size or lot_size has too many digits") from None
        if notional > MAX_AMOUNT or base_units > MAX_AMOUNT:
            raise InstrumentError(
                "tick_size x lot_size or lot_size is too large: one lot or one tick of one "
                f"lot must be at most {MAX_AMOUNT} minor units"
            )
        if notional != notional.to_integral_value():
            raise InstrumentError(
                f"tick_size x lot_size = {EXACT.multiply(tick, lot)} is finer than the quote "
                f"asset's {quote_decimals} decimals: notional could not be settled exactly"
            )
        if base_units != base_units.to_integral_value():
            raise InstrumentError(
                f"lot_size {lot} is finer than the base asset's {base_decimals} decimals"
            )
        instrument = cls(
            symbol=symbol,
            base_asset=base_asset,
            quote_asset=quote_asset,
            tick_size=str(tick),
            lot_size=str(lot),
            base_decimals=base_decimals,
            quote_decimals=quote_decimals,
            notional_per_tick_lot=int(notional),
            base_units_per_lot=int(base_units),
            min_qty_lots=min_qty_lots,
            max_qty_lots=max_qty_lots,
            min_notional=min_notional,
            price_band_bps=price_band_bps,
            mode=mode,
            auction_interval_ns=auction_interval_ns,
            session_close_offset_ns=session_close_offset_ns,
            reference_price_ticks=reference_price_ticks,
            max_book_orders=max_book_orders,
        )
        problem = instrument_problem(instrument) or instrument_range_problem(instrument)
        if problem is not None:
            raise InstrumentError(problem)
        return instrument


def _positive_decimal(name: str, text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation as exc:
        raise InstrumentError(f"{name} {text!r} is not a decimal number") from exc
    if not value.is_finite() or value <= 0:
        raise InstrumentError(f"{name} must be a positive decimal, got {text!r}")
    return value.normalize(EXACT)


def instrument_range_problem(instrument: Instrument) -> str | None:
    """Why a new instrument's integers would not fit the venue's bounds, or None."""
    bounds: tuple[tuple[str, int | None, int], ...] = (
        ("min_quantity", instrument.min_qty_lots, MAX_QTY_LOTS),
        ("max_quantity", instrument.max_qty_lots, MAX_QTY_LOTS),
        ("min_notional", instrument.min_notional, MAX_AMOUNT),
        ("reference_price", instrument.reference_price_ticks, MAX_PRICE_TICKS),
        ("auction_interval", instrument.auction_interval_ns, NS_PER_DAY),
        ("max_book_orders", instrument.max_book_orders, MAX_BOOK_ORDERS),
    )
    for name, value, limit in bounds:
        if value is not None and value > limit:
            return f"{name} is too large (at most {limit} in the venue's units)"
    return None


def instrument_problem(instrument: Instrument) -> str | None:
    """Why this instrument cannot be listed, or None. Checked again by the core on AddInstrument,
    because a journaled command must be valid on its own, whoever built it."""
    if not instrument.symbol or len(instrument.symbol) > 32:
        return "symbol must have 1 to 32 characters"
    if instrument.base_asset == instrument.quote_asset:
        return "base and quote asset must differ"
    if instrument.notional_per_tick_lot <= 0 or instrument.base_units_per_lot <= 0:
        return "tick and lot multipliers must be positive"
    if not 0 <= instrument.base_decimals <= 18 or not 0 <= instrument.quote_decimals <= 18:
        return "asset decimals must lie between 0 and 18"
    if instrument.min_qty_lots < 1:
        return "min_qty_lots must be at least 1"
    if instrument.max_qty_lots is not None and instrument.max_qty_lots < instrument.min_qty_lots:
        return "max_qty_lots is below min_qty_lots"
    if instrument.min_notional < 0:
        return "min_notional must not be negative"
    if not 0 <= instrument.price_band_bps < BPS_DENOMINATOR:
        return "price_band_bps must lie in [0, 10000)"
    if instrument.mode == MarketMode.CALL and instrument.auction_interval_ns < 0:
        return "auction_interval_ns must not be negative"
    if instrument.session_close_offset_ns is not None and not (
        0 <= instrument.session_close_offset_ns < NS_PER_DAY
    ):
        return "session_close_offset_ns must lie within one day"
    if instrument.reference_price_ticks is not None and instrument.reference_price_ticks <= 0:
        return "reference_price_ticks must be positive"
    if instrument.max_book_orders < 1:
        return "max_book_orders must be at least 1"
    return None
