"""venue: a trading venue with a deterministic single-writer core."""

__version__ = "0.1.0"
