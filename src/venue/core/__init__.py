"""The venue's state and its one transition function, `apply` (DESIGN.md §3).

This is the core's public surface for the rest of the venue: projections and the gateway
import from here, never from `venue.engine`, `venue.ledger` or `venue.risk` (an
import-linter contract says so).
"""

from venue.core.depth import MarketDepth, market_depths
from venue.core.state import VenueState, apply
from venue.ledger.accounts import FEE_ACCOUNT_ID

__all__ = ["FEE_ACCOUNT_ID", "MarketDepth", "VenueState", "apply", "market_depths"]
