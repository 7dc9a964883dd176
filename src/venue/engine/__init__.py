"""Pure order books and matching: price levels, continuous matching, call auctions, stops,
icebergs, self-trade prevention and expiry (DESIGN.md §6). No clock, no randomness, no I/O."""
