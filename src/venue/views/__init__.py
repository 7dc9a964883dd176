"""Read-side views folded from the event stream (DESIGN.md §9): pure, no framework, no I/O.

The live order view of the gateway and the SQL projector share these reducers, so both tell
the same story about every order.
"""

from venue.views.orders import (
    Changes,
    FillRecord,
    OrderRecord,
    OrderStatus,
    OrderTracker,
    record_of_place,
)

__all__ = [
    "Changes",
    "FillRecord",
    "OrderRecord",
    "OrderStatus",
    "OrderTracker",
    "record_of_place",
]
