"""Exact decimal arithmetic for the edge's conversions (wire text <-> ticks, lots, minor units).

Python's default decimal context keeps 28 significant digits and rounds silently beyond them,
so `Decimal("20000.009999999999999999999999999") / Decimal("0.01")` comes out a whole number.
`EXACT` is wide enough for every value the venue accepts (at most 64 characters of text, so
products and quotients of two of them need at most ~130 digits) and traps rounding instead of
performing it: any computation that could not be exact raises, and callers refuse the input.
"""

from __future__ import annotations

from decimal import Context, Inexact, InvalidOperation, Overflow, Rounded
from typing import Final

EXACT: Final = Context(
    prec=200, Emax=999_999, Emin=-999_999, traps=[InvalidOperation, Inexact, Rounded, Overflow]
)
