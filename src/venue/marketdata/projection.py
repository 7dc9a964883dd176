"""Market data projection: L2 books, BBO, trades, candles, 24 h tickers and auction figures of
every symbol, built from the event stream alone (DESIGN.md §1, §9), and published to a `Hub`.

`MarketData` is the facade the gateway and the composition root use; its parts live beside it
(each module's docstring has its own invariants):

- `market`: one symbol's state (`Market`); `text`: integer -> text (`Memo`, names)
- `book`: L2 book + BBO (sorted levels, per-command aggregation of level changes, seq chain)
- `trades`: recent trades, and each trade's way into candles and the ticker
- `candles`: the candle channels and reads over `venue.views.candles` (shared with the SQL
  projector); `ticker`: the rolling 24 h ticker; `auction`: auction figures
- `publish`: the JSON layer (encoding, per-command publishing, snapshots)

Where it runs: `on_batch(commands, events)` is called on the event loop thread with each
durable batch, in seq order (the composition root forwards the sequencer's listener calls with
`loop.call_soon_threadsafe`). The read methods (`book`, `bbo`, `trades`, ...) and
`snapshot_bytes` run on the same thread, so a WebSocket session that subscribes and queues a
snapshot between two awaits can never miss or double a delta.

Invariants:
- Each command's changes to a market are gathered while its events are applied (one dict
  lookup per event picks the handler; events that are not market data cost nothing more),
  then published once (`publish.flush`): every channel gets at most one message per
  command, except trades (one per trade) and auctions (one per auction event).
- Work per batch is O(events) plus O(log levels) per level change and the formatting of
  what is published. Nothing is serialized for a channel without subscribers, and each
  message is serialized once for all of its subscribers.
- Every collection is bounded: trades (`trades_kept`), closed candles per interval
  (`candles_kept`), 24 h ticker buckets (1440), formatting memos (`text.MEMO_MAX`).

Known limitations: see `book` (deep books, snapshot depth) and `ticker` (whole-minute window
read against the latest command's timestamp: the projection has no clock of its own).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from venue.core import MarketDepth, VenueState, market_depths
from venue.domain.commands import SequencedCommand
from venue.domain.events import (
    AuctionIndicative,
    AuctionUncrossed,
    Event,
    InstrumentAdded,
    LevelUpdated,
    MarketStatusChanged,
    TradeExecuted,
)
from venue.domain.instrument import Instrument
from venue.domain.units import Units
from venue.domain.values import MarketMode, MarketStatus
from venue.marketdata.auction import apply_auction, auction_dict
from venue.marketdata.book import CLASSIC_DEPTH, apply_level, bbo_figures, bbo_of, levels_text
from venue.marketdata.candles import (
    CandleRow,
    UnknownIntervalError,
    held_candles,
    interval_index,
    seed_rows,
)
from venue.marketdata.hub import Hub
from venue.marketdata.market import Market, UnknownSymbol, instrument_dict
from venue.marketdata.publish import flush, snapshot
from venue.marketdata.ticker import TICKER_WINDOW_MINUTES, ticker_dict
from venue.marketdata.trades import TradeRow, TradeTuple, apply_trade, recent_trades, seed_trade
from venue.views.candles import INTERVALS_NS, NS_PER_MINUTE

__all__ = [  # the names importers of this module had before the split
    "CLASSIC_DEPTH",
    "INTERVALS_NS",
    "NS_PER_MINUTE",
    "TICKER_WINDOW_MINUTES",
    "CandleRow",
    "MarketData",
    "TradeRow",
    "TradeTuple",
    "UnknownIntervalError",
    "UnknownSymbol",
]


class MarketData:
    """The projection; see the module docstring. `hub` None: REST reads only, no publishing."""

    def __init__(
        self,
        hub: Hub | None = None,
        *,
        trades_kept: int = 1000,
        candles_kept: int = 1000,
        snapshot_depth: int = 1000,
    ) -> None:
        if trades_kept < 1 or candles_kept < 1 or snapshot_depth < 1:
            raise ValueError("trades_kept, candles_kept and snapshot_depth must be at least 1")
        self.hub = hub
        self.trades_kept = trades_kept
        self.candles_kept = candles_kept
        self.snapshot_depth = snapshot_depth
        self._markets: dict[str, Market] = {}
        self.last_seq = 0
        self.last_ts_ns = 0
        self._touched: list[Market] = []  # markets the current command changed
        self._handlers: dict[type, Callable[[Any, int, int], None]] = {
            LevelUpdated: self._on_level,
            TradeExecuted: self._on_trade,
            AuctionIndicative: self._on_auction,
            AuctionUncrossed: self._on_auction,
            InstrumentAdded: self._on_instrument,
            MarketStatusChanged: self._on_status,
        }

    # ------------------------------------------------------------------ seeding (startup)

    def seed_from_state(self, state: VenueState) -> None:
        """Instruments, status, books and last prices of a recovered state, through the
        core's public `market_depths` (never the engine's objects). Call once, before the
        sequencer thread starts."""
        self.seed_depths(state.last_seq, state.last_ts_ns, market_depths(state))

    def seed_depths(self, seq: int, ts_ns: int, depths: Iterable[MarketDepth]) -> None:
        self.last_seq = seq
        self.last_ts_ns = ts_ns
        for depth in depths:
            market = self._add(depth.instrument)
            market.status = depth.status
            market.mode = depth.mode
            market.bids.replace_all(depth.bids)
            market.asks.replace_all(depth.asks)
            market.book_seq = seq
            market.book_ts = ts_ns
            market.bbo = bbo_of(market)
            if depth.last_price_ticks:
                market.last_trade = (0, depth.last_price_ticks, 0, 0, 0, 0, 0, 0)

    def seed_trades(self, symbol: str, rows: Iterable[TradeRow]) -> None:
        """Recent trades from the read model, oldest first (see `TradeRow`)."""
        market = self._market(symbol)
        for row in rows:
            seed_trade(market, row)

    def seed_candles(self, symbol: str, interval: str, rows: Iterable[CandleRow]) -> None:
        """Recent candles from the read model, oldest first (see `CandleRow`); the newest
        becomes the live candle, which later trades of the same bucket extend. Seeding the
        1m interval also fills the 24 h ticker with the minutes of the last day."""
        seed_rows(self._market(symbol), interval, rows)

    def _add(self, instrument: Instrument) -> Market:
        market = Market(instrument, self.trades_kept, self.candles_kept)
        self._markets[instrument.symbol] = market
        return market

    # ------------------------------------------------------------------ the listener

    def on_batch(self, commands: Sequence[SequencedCommand], events: Sequence[list[Event]]) -> None:
        """Apply one durable batch and publish what changed; see the module docstring."""
        handlers = self._handlers
        touched = self._touched
        hub = self.hub
        for sequenced, command_events in zip(commands, events, strict=True):
            seq = sequenced.seq
            ts = sequenced.ts_ns
            self.last_seq = seq
            self.last_ts_ns = ts
            for event in command_events:
                # One dict lookup per event: most events (orders, balances, postings) are not
                # market data and cost nothing more.
                handler = handlers.get(type(event))
                if handler is not None:
                    handler(event, seq, ts)
            if touched:
                for market in touched:
                    flush(market, hub, seq, ts)
                touched.clear()

    def _touch(self, symbol: str) -> Market:
        market = self._markets[symbol]
        if not market.touched:
            market.touched = True
            self._touched.append(market)
        return market

    def _on_level(self, event: LevelUpdated, seq: int, ts: int) -> None:
        apply_level(self._touch(event.symbol), event)

    def _on_trade(self, event: TradeExecuted, seq: int, ts: int) -> None:
        apply_trade(self._touch(event.symbol), event, seq)

    def _on_auction(self, event: AuctionIndicative | AuctionUncrossed, seq: int, ts: int) -> None:
        apply_auction(self._touch(event.symbol), event, seq, ts)

    def _on_instrument(self, event: InstrumentAdded, seq: int, ts: int) -> None:
        self._add(event.instrument)

    def _on_status(self, event: MarketStatusChanged, seq: int, ts: int) -> None:
        market = self._markets[event.symbol]
        market.status = int(event.status)
        market.mode = int(event.mode)

    # ------------------------------------------------------------------ reads (REST, WS)

    def has(self, symbol: str) -> bool:
        return symbol in self._markets

    def symbols(self) -> list[str]:
        return list(self._markets)

    def instruments(self) -> list[dict[str, Any]]:
        return [instrument_dict(market) for market in self._markets.values()]

    def instrument(self, symbol: str) -> Instrument:
        return self._market(symbol).instrument

    def units(self, symbol: str) -> Units:
        return self._market(symbol).units

    def book(self, symbol: str, depth: int = 100) -> dict[str, Any]:
        market = self._market(symbol)
        return {
            "symbol": symbol,
            "seq": market.book_seq,
            "bids": levels_text(market, market.bids.top(depth)),
            "asks": levels_text(market, market.asks.top(depth)),
        }

    def book_levels(self, symbol: str) -> tuple[list[tuple[int, int, int]], ...]:
        """Every level as integers, best first: ([(price, qty, count)...] bids, asks)."""
        market = self._market(symbol)
        return market.bids.all_levels(), market.asks.all_levels()

    def book_seq(self, symbol: str) -> int:
        return self._market(symbol).book_seq

    def bbo(self, symbol: str) -> dict[str, Any]:
        market = self._market(symbol)
        bid, ask = bbo_figures(market)
        return {"symbol": symbol, "seq": market.book_seq, "bid": bid, "ask": ask}

    def trades(self, symbol: str, limit: int = 100) -> list[dict[str, Any]]:
        """The most recent trades, newest first."""
        return recent_trades(self._market(symbol), limit)

    def last_price(self, symbol: str) -> str | None:
        market = self._market(symbol)
        last = market.last_trade
        return None if last is None else market.price(last[1])

    def ticker(self, symbol: str) -> dict[str, Any]:
        return ticker_dict(self._market(symbol), self.last_seq, self.last_ts_ns)

    def auction(self, symbol: str) -> dict[str, Any] | None:
        """The symbol's last auction message (indicative or uncrossed; flat, as published but
        without "channel"), with `last_uncross` the last uncross message (or None); None if
        the symbol never had an auction event."""
        return auction_dict(self._market(symbol))

    def candles(self, symbol: str, interval: str) -> list[dict[str, Any]]:
        """The candles held for `interval`, oldest first, the live one last."""
        return held_candles(self._market(symbol), interval)

    def candle_rows(self, symbol: str, interval: str) -> list[CandleRow]:
        """The candles held for `interval` as integers (the rows `seed_candles` takes),
        oldest first, the live one last."""
        candles = self._market(symbol).candles
        return [candle.row() for candle in candles.all(interval_index(interval))]

    def status(self, symbol: str) -> tuple[MarketStatus, MarketMode]:
        market = self._market(symbol)
        return MarketStatus(market.status), MarketMode(market.mode)

    # ------------------------------------------------------------------ channels

    def valid_channel(self, channel: str) -> bool:
        """True for a public market data channel of a known symbol."""
        return self._parse(channel) is not None

    def snapshot_bytes(self, channel: str) -> bytes | None:
        """What a new subscriber of `channel` gets first, or None (trades, private channels,
        unknown channels, or nothing to say yet)."""
        parsed = self._parse(channel)
        if parsed is None:
            return None
        kind, market, interval = parsed
        return snapshot(
            kind, market, interval, channel, self.snapshot_depth, self.last_seq, self.last_ts_ns
        )

    def _parse(self, channel: str) -> tuple[str, Market, str] | None:
        """(kind, market, interval) of a public channel, or None."""
        kind, _, rest = channel.partition(".")
        if kind == "classic":
            sub, _, symbol = rest.partition(".")
            if sub not in ("book", "trades"):
                return None
            market = self._markets.get(symbol)
            return None if market is None else (f"classic.{sub}", market, "")
        if kind == "candles":
            symbol, _, interval = rest.rpartition(".")
            market = self._markets.get(symbol)
            if market is None or interval not in INTERVALS_NS:
                return None
            return kind, market, interval
        if kind in ("book", "bbo", "trades", "ticker", "auction"):
            market = self._markets.get(rest)
            return None if market is None else (kind, market, "")
        return None

    def _market(self, symbol: str) -> Market:
        market = self._markets.get(symbol)
        if market is None:
            raise UnknownSymbol(symbol)
        return market
