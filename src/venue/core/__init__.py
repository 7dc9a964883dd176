"""The venue's state and its one transition function, `apply` (DESIGN.md §3)."""

from venue.core.state import VenueState, apply

__all__ = ["VenueState", "apply"]
