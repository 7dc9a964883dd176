"""Pure pre-trade risk: limits per account (through a named profile) and their O(1) checks."""
