"""Decimal text at the edge, integers inside: conversions between what clients send and read
(decimal strings such as "27000.50") and the core's ticks, lots and minor units.

The wire's decimal grammar is one regular form, `DECIMAL_PATTERN`: ASCII digits, optionally a
point and more ASCII digits, at most 64 characters (`"27000"`, `"0.015"`). Refused, because
each reads differently in some client or language: signs, exponents (`"2e4"`), spaces,
underscores (`"20_000"`), non-ASCII digits (fullwidth, Arabic-Indic), `"NaN"`, `".5"`, `"5."`.

Invariants:
- Parsing is exact: a value that is not a whole number of ticks, lots or minor units is
  refused with a `UnitError` naming the field, never rounded, however many digits it has
  (arithmetic runs in `EXACT`, a context wide enough for any accepted text that traps
  every rounding instead of performing it).
- Formatting is exact and canonical: no exponent, no trailing zeros beyond the unit's
  decimals (so "0.10" for a tick of 0.01 is written "0.1"), never a float on the way.
"""

from __future__ import annotations

import re
from decimal import Decimal
from functools import lru_cache

from venue.domain.exact import EXACT
from venue.domain.instrument import Instrument
from venue.domain.values import MAX_AMOUNT, MAX_PRICE_TICKS, MAX_QTY_LOTS

_MAX_TEXT = 64
DECIMAL_PATTERN = r"^[0-9]+(\.[0-9]+)?$"
_DECIMAL = re.compile(DECIMAL_PATTERN, re.ASCII)
_GRAMMAR_HINT = (
    'must be a decimal string of ASCII digits such as "1.5" (no sign, exponent, space or "_")'
)


class UnitError(ValueError):
    """A decimal text that does not fit the unit it is meant for. `field` names the input."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def parse_decimal(field: str, text: object) -> Decimal:
    """The exact value of a wire decimal (`DECIMAL_PATTERN`), or `UnitError` naming `field`.
    A Python int (from the venue's own code, never the wire's JSON) is accepted too."""
    if isinstance(text, bool) or not isinstance(text, str | int):
        raise UnitError(field, _GRAMMAR_HINT)
    raw = str(text)
    if len(raw) > _MAX_TEXT:
        raise UnitError(field, f"has more than {_MAX_TEXT} characters")
    if _DECIMAL.fullmatch(raw) is None:  # fullmatch: "$" alone lets a final "\n" through
        raise UnitError(field, _GRAMMAR_HINT)
    return Decimal(raw)


def is_multiple(value: Decimal, unit: Decimal) -> bool:
    """True when `value` is a whole number of `unit`s, decided exactly."""
    return EXACT.remainder(value, unit).is_zero()


def _whole_units(field: str, value: Decimal, unit: Decimal, unit_name: str, limit: int) -> int:
    if value <= 0:
        raise UnitError(field, "must be positive")
    if not is_multiple(value, unit):
        raise UnitError(field, f"{value} is not a multiple of the {unit_name} {unit}")
    result = int(EXACT.divide_int(value, unit))
    if result > limit:
        raise UnitError(field, f"{value} is too large (at most {limit} units of {unit})")
    return result


def format_units(count: int, unit: Decimal) -> str:
    """`count` units of size `unit` as canonical decimal text."""
    value = EXACT.multiply(unit, Decimal(count)).normalize(EXACT)
    return format(value, "f")


@lru_cache(maxsize=4096)
def _decimal(text: str) -> Decimal:
    return Decimal(text)


def _minor_unit(decimals: int) -> Decimal:
    return Decimal(1).scaleb(-decimals, EXACT)


class Units:
    """The conversions of one instrument (cheap to build; cache one per instrument)."""

    __slots__ = ("base_unit", "instrument", "lot", "quote_unit", "tick")

    def __init__(self, instrument: Instrument) -> None:
        self.instrument = instrument
        self.tick = _decimal(instrument.tick_size)
        self.lot = _decimal(instrument.lot_size)
        self.base_unit = _minor_unit(instrument.base_decimals)
        self.quote_unit = _minor_unit(instrument.quote_decimals)

    def price_ticks(self, field: str, text: object) -> int:
        return _whole_units(
            field, parse_decimal(field, text), self.tick, "tick size", MAX_PRICE_TICKS
        )

    def qty_lots(self, field: str, text: object) -> int:
        return _whole_units(field, parse_decimal(field, text), self.lot, "lot size", MAX_QTY_LOTS)

    def quote_amount(self, field: str, text: object) -> int:
        return _whole_units(
            field,
            parse_decimal(field, text),
            self.quote_unit,
            "quote asset's minor unit",
            MAX_AMOUNT,
        )

    def price(self, ticks: int) -> str:
        return format_units(ticks, self.tick)

    def qty(self, lots: int) -> str:
        return format_units(lots, self.lot)

    def quote(self, minor: int) -> str:
        return format_units(minor, self.quote_unit)

    def base(self, minor: int) -> str:
        return format_units(minor, self.base_unit)

    def average_price(self, notional_ticks_lots: int, lots: int) -> str | None:
        """The volume-weighted average price of fills summing to `notional_ticks_lots`
        (sum of price_ticks * qty_lots) over `lots`, to 8 more decimals than the tick."""
        if lots <= 0:
            return None
        exact = Decimal(notional_ticks_lots) / Decimal(lots) * self.tick
        places = max(0, -self.tick.as_tuple().exponent) + 8  # type: ignore[operator]
        return format(exact.quantize(Decimal(1).scaleb(-places)).normalize(), "f")


def parse_units(field: str, text: object, unit: Decimal, unit_name: str, limit: int) -> int:
    """A positive whole number (at most `limit`) of `unit`s, from wire text."""
    return _whole_units(field, parse_decimal(field, text), unit, unit_name, limit)


def parse_amount(field: str, text: object, decimals: int) -> int:
    """An asset amount in minor units (10**-decimals)."""
    return _whole_units(
        field, parse_decimal(field, text), _minor_unit(decimals), "asset's minor unit", MAX_AMOUNT
    )


def format_amount(minor: int, decimals: int) -> str:
    return format_units(minor, _minor_unit(decimals))
