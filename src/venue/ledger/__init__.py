"""Pure accounts, reservations, fees, double-entry postings and settlement (DESIGN.md §7)."""
