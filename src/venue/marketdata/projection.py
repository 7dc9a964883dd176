"""Market data projection: L2 books, BBO, trades, candles, 24 h tickers and auction figures of
every symbol, built from the event stream alone (DESIGN.md §1, §9), and published to a `Hub`.

Where it runs: `on_batch(commands, events)` is called on the event loop thread with each
durable batch, in seq order (the composition root forwards the sequencer's listener calls with
`loop.call_soon_threadsafe`). The read methods (`book`, `bbo`, `trades`, ...) and
`snapshot_bytes` run on the same thread, so a WebSocket session that subscribes and queues a
snapshot between two awaits can never miss or double a delta.

Invariants:
- The L2 book of a symbol equals the engine's visible book after the last applied command:
  price -> (qty_lots, order_count) per side, from `LevelUpdated` (qty 0 removes the level).
- `book_seq` is the seq of the last command that changed that book. A `book.{symbol}` delta
  carries `seq` (its command) and `prev_seq` (the book_seq before it), so the deltas of one
  book form a chain: a client that sees `prev_seq` differ from the last seq it applied has
  missed something and must take a new snapshot. The snapshot carries `seq` = book_seq.
- All `LevelUpdated` of one command on one book are aggregated into one delta (the last
  figure of a level wins); every other channel also gets at most one message per command,
  except trades (one message per trade).
- Work per batch is O(events) plus O(log levels) per level change (a bisect into a sorted
  key list) and the formatting of what is published. Nothing is serialized for a channel
  without subscribers, and each message is serialized once for all of its subscribers.
- Prices and quantities stay integer ticks and lots; text is made only by the symbol's
  `Units` (memoized per symbol, since a market prints the same few prices over and over).
- Every collection is bounded: trades (`trades_kept`), closed candles per interval
  (`candles_kept`), 24 h ticker buckets (1440), formatting memos (`_MEMO_MAX`).

Known limitations:
- Inserting or removing a price level shifts a Python list (memmove of the keys behind it);
  levels near the touch, which change most, sit at the cheap end. A book of 10^5+ levels
  pays a few tens of microseconds per new or removed level deep in the book.
- A snapshot holds at most `snapshot_depth` levels per side (default 1000); a client of a
  deeper book only knows those levels (deltas deeper than that still reach it).
- The 24 h ticker window slides by whole minutes and is read against the latest command's
  timestamp (the projection has no clock of its own: time is what the sequencer stamped).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from typing import Any, Final, TypeAlias

import msgspec

from venue.core import VenueState
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
from venue.domain.values import NS_PER_MS, MarketMode, MarketStatus, Side
from venue.marketdata.hub import Hub

NS_PER_MINUTE: Final = 60_000_000_000
INTERVALS_NS: Final[dict[str, int]] = {
    "1m": NS_PER_MINUTE,
    "5m": 5 * NS_PER_MINUTE,
    "15m": 15 * NS_PER_MINUTE,
    "1h": 60 * NS_PER_MINUTE,
    "1d": 1440 * NS_PER_MINUTE,
}
TICKER_WINDOW_MINUTES: Final = 1440
CLASSIC_DEPTH: Final = 10
_MEMO_MAX: Final = 65_536
_BUY: Final = 1
_SIDE_NAMES: Final[dict[int, str]] = {1: "buy", 2: "sell"}
_STATUS_NAMES: Final[dict[int, str]] = {1: "open", 2: "halted"}
_MODE_NAMES: Final[dict[int, str]] = {1: "continuous", 2: "call"}
_HUNDRED: Final = Decimal(100)
_CENT: Final = Decimal("0.01")

_encode: Final = msgspec.json.Encoder().encode

# (trade_id, price_ticks, qty_lots, aggressor_side (1, 2 or 0 for none), ts_ns, seq,
#  maker_order_id, taker_order_id)
TradeTuple: TypeAlias = tuple[int, int, int, int, int, int, int, int]
TradeRow: TypeAlias = tuple[int, int, int, int | None, int, int]
"""What `seed_trades` takes: (trade_id, price_ticks, qty_lots, aggressor_side 1/2/None,
ts_ns, seq), oldest first."""
CandleRow: TypeAlias = tuple[int, int, int, int, int, int, int, int]
"""What `seed_candles` takes: (start_ns, open_ticks, high_ticks, low_ticks, close_ticks,
volume_lots, trade_count, notional_ticks_lots), oldest first. `notional_ticks_lots` is
sum(price_ticks * qty_lots) of the candle's trades; it seeds the 24 h ticker's quote volume
(give 0 if unknown)."""


class UnknownSymbol(KeyError):  # noqa: N818 (the name the gateway expects)
    """No instrument of that symbol is known to the projection."""


class UnknownIntervalError(ValueError):
    """Not one of the candle intervals in `INTERVALS_NS`."""


class _Memo:
    """Integer -> decimal text through `Units`, remembered (cleared when it grows too big)."""

    __slots__ = ("_format", "_texts")

    def __init__(self, format_: Callable[[int], str]) -> None:
        self._format = format_
        self._texts: dict[int, str] = {}

    def __call__(self, value: int) -> str:
        text = self._texts.get(value)
        if text is None:
            if len(self._texts) >= _MEMO_MAX:
                self._texts.clear()
            text = self._format(value)
            self._texts[value] = text
        return text


class _L2Side:
    """One side of an L2 book: price -> (qty, count) and a sorted list of keys where the best
    level has the largest key (price for bids, -price for asks), so the busy end of the list
    is its tail and inserting near the touch moves little memory. `texts` caches each level's
    [price, qty] text for the messages that are encoded at once (never handed out)."""

    __slots__ = ("keys", "levels", "sign", "texts")

    def __init__(self, sign: int) -> None:
        self.sign = sign
        self.levels: dict[int, tuple[int, int]] = {}
        self.keys: list[int] = []
        self.texts: dict[int, list[str]] = {}

    def set(self, price: int, qty: int, count: int) -> int:
        """Apply one level figure; returns how many levels are strictly better than `price`
        (so the caller knows whether the top N changed), or -1 if nothing changed."""
        key = price * self.sign
        keys = self.keys
        levels = self.levels
        self.texts.pop(price, None)
        if qty == 0:
            if levels.pop(price, None) is None:
                return -1
            index = bisect_left(keys, key)
            del keys[index]
            return len(keys) - index
        if price in levels:
            levels[price] = (qty, count)
            return len(keys) - bisect_right(keys, key)
        levels[price] = (qty, count)
        index = bisect_left(keys, key)
        keys.insert(index, key)
        return len(keys) - index - 1

    def best(self) -> tuple[int, int] | None:
        """(price, qty) of the best level, or None."""
        keys = self.keys
        if not keys:
            return None
        price = keys[-1] * self.sign
        return price, self.levels[price][0]

    def top(self, depth: int) -> list[tuple[int, int]]:
        """(price, qty) of the best `depth` levels, best first."""
        keys = self.keys
        sign = self.sign
        levels = self.levels
        out: list[tuple[int, int]] = []
        for index in range(len(keys) - 1, max(-1, len(keys) - 1 - depth), -1):
            price = keys[index] * sign
            out.append((price, levels[price][0]))
        return out

    def top_texts(self, depth: int, price: _Memo, qty: _Memo) -> list[list[str]]:
        """[price, qty] text of the best `depth` levels, best first, from the cache."""
        keys = self.keys
        sign = self.sign
        levels = self.levels
        texts = self.texts
        out: list[list[str]] = []
        for index in range(len(keys) - 1, max(-1, len(keys) - 1 - depth), -1):
            px = keys[index] * sign
            pair = texts.get(px)
            if pair is None:
                pair = [price(px), qty(levels[px][0])]
                texts[px] = pair
            out.append(pair)
        return out

    def replace_all(self, figures: Iterable[tuple[int, int, int]]) -> None:
        self.levels = {price: (qty, count) for price, qty, count in figures if qty > 0}
        self.keys = sorted(price * self.sign for price in self.levels)
        self.texts = {}


class _Candle:
    __slots__ = ("close", "high", "low", "open", "start_ns", "trades", "volume")

    def __init__(self, start_ns: int, price: int) -> None:
        self.start_ns = start_ns
        self.open = price
        self.high = price
        self.low = price
        self.close = price
        self.volume = 0
        self.trades = 0


class _Minute:
    """One minute of the 24 h ticker window (only minutes with trades exist)."""

    __slots__ = ("high", "low", "minute", "notional", "open", "trades", "volume")

    def __init__(self, minute: int, price: int) -> None:
        self.minute = minute
        self.open = price
        self.high = price
        self.low = price
        self.volume = 0
        self.notional = 0
        self.trades = 0


class _Ticker:
    """Rolling 24 h figures, O(1) amortized per trade: running sums over a deque of minute
    buckets, and monotonic deques of (minute, high) / (minute, low) for the window's extremes
    (a sum can be taken back when a minute leaves the window, a maximum cannot)."""

    __slots__ = ("highs", "lows", "minutes", "notional", "trades", "volume")

    def __init__(self) -> None:
        self.minutes: deque[_Minute] = deque()
        self.highs: deque[tuple[int, int]] = deque()
        self.lows: deque[tuple[int, int]] = deque()
        self.volume = 0
        self.notional = 0
        self.trades = 0

    def add(self, minute: int, price: int, qty: int, trades: int = 1, notional: int = -1) -> None:
        minutes = self.minutes
        if minutes and minutes[-1].minute == minute:
            bucket = minutes[-1]
        else:
            self.expire(minute)
            bucket = _Minute(minute, price)
            minutes.append(bucket)
        bucket.volume += qty
        add_notional = price * qty if notional < 0 else notional
        bucket.notional += add_notional
        bucket.trades += trades
        self.volume += qty
        self.notional += add_notional
        self.trades += trades
        bucket.high = max(bucket.high, price)
        bucket.low = min(bucket.low, price)
        self._extreme(self.highs, minute, bucket.high, higher=True)
        self._extreme(self.lows, minute, bucket.low, higher=False)

    @staticmethod
    def _extreme(ends: deque[tuple[int, int]], minute: int, value: int, *, higher: bool) -> None:
        # Entries behind a better-or-equal newer value can never be the window's extreme again.
        while ends and (ends[-1][1] <= value if higher else ends[-1][1] >= value):
            ends.pop()
        ends.append((minute, value))

    def expire(self, now_minute: int) -> None:
        first = now_minute - TICKER_WINDOW_MINUTES + 1
        minutes = self.minutes
        while minutes and minutes[0].minute < first:
            old = minutes.popleft()
            self.volume -= old.volume
            self.notional -= old.notional
            self.trades -= old.trades
        for ends in (self.highs, self.lows):
            while ends and ends[0][0] < first:
                ends.popleft()


class _Market:
    """Everything the projection holds about one symbol, plus the scratch of the command being
    applied (`bid_changes`, `ask_changes`, `new_trades`, ... reset by `_flush`)."""

    __slots__ = (
        "ask_changes",
        "asks",
        "auction",
        "auction_uncrossed",
        "bbo",
        "bid_changes",
        "bids",
        "book_seq",
        "book_ts",
        "candles",
        "ch_auction",
        "ch_bbo",
        "ch_book",
        "ch_candles",
        "ch_classic_book",
        "ch_classic_trades",
        "ch_ticker",
        "ch_trades",
        "history",
        "instrument",
        "last_trade",
        "mode",
        "new_auctions",
        "new_trades",
        "price",
        "qty",
        "snapshot_cache",
        "status",
        "symbol",
        "ticker",
        "top_changed",
        "touched",
        "trades",
        "units",
    )

    def __init__(self, instrument: Instrument, trades_kept: int, candles_kept: int) -> None:
        symbol = instrument.symbol
        self.symbol = symbol
        self.instrument = instrument
        self.units = Units(instrument)
        self.price = _Memo(self.units.price)
        self.qty = _Memo(self.units.qty)
        self.status = int(MarketStatus.OPEN)
        self.mode = int(instrument.mode)
        self.bids = _L2Side(1)
        self.asks = _L2Side(-1)
        self.book_seq = 0
        self.book_ts = 0
        self.bbo: tuple[int, int, int, int] = (0, 0, 0, 0)  # bid px, bid qty, ask px, ask qty
        self.last_trade: TradeTuple | None = None
        self.trades: deque[TradeTuple] = deque(maxlen=trades_kept)
        self.candles: dict[str, _Candle | None] = dict.fromkeys(INTERVALS_NS)
        self.history: dict[str, deque[_Candle]] = {
            name: deque(maxlen=candles_kept) for name in INTERVALS_NS
        }
        self.ticker = _Ticker()
        # The last auction message (the snapshot), and the last uncross.
        self.auction: dict[str, Any] | None = None
        self.auction_uncrossed: dict[str, Any] | None = None
        # (seq, ts_ns, depth, bytes) of the last book snapshot, reused until the book changes
        self.snapshot_cache: tuple[int, int, bytes] | None = None
        self.ch_book = f"book.{symbol}"
        self.ch_bbo = f"bbo.{symbol}"
        self.ch_trades = f"trades.{symbol}"
        self.ch_ticker = f"ticker.{symbol}"
        self.ch_auction = f"auction.{symbol}"
        self.ch_candles = {name: f"candles.{symbol}.{name}" for name in INTERVALS_NS}
        self.ch_classic_book = f"classic.book.{symbol}"
        self.ch_classic_trades = f"classic.trades.{symbol}"
        # Scratch of the current command.
        self.touched = False
        self.bid_changes: dict[int, int] = {}
        self.ask_changes: dict[int, int] = {}
        self.top_changed = False
        self.new_trades: list[TradeTuple] = []
        self.new_auctions: list[dict[str, Any]] = []


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
        self._markets: dict[str, _Market] = {}
        self.last_seq = 0
        self.last_ts_ns = 0
        self._touched: list[_Market] = []  # markets the current command changed
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
        """Copy instruments, status, books and last prices from a recovered state. Call once,
        before the sequencer thread starts (it reads the engine's objects, which only the
        sequencer may touch once it runs)."""
        self.last_seq = state.last_seq
        self.last_ts_ns = state.last_ts_ns
        for engine_market in state.engine.markets.values():
            market = self._add(engine_market.instrument)
            market.status = int(engine_market.status)
            market.mode = int(engine_market.mode)
            for side, book in (
                (market.bids, engine_market.bids),
                (market.asks, engine_market.asks),
            ):
                side.replace_all(
                    (level.price, level.qty, level.count) for level in book.levels.values()
                )
            market.book_seq = state.last_seq
            market.book_ts = state.last_ts_ns
            market.bbo = _bbo_of(market)
            if engine_market.last_price:
                market.last_trade = (0, engine_market.last_price, 0, 0, 0, 0, 0, 0)

    def seed_trades(self, symbol: str, rows: Iterable[TradeRow]) -> None:
        """Recent trades from the read model, oldest first (see `TradeRow`)."""
        market = self._market(symbol)
        for trade_id, price, qty, aggressor, ts_ns, seq in rows:
            trade = (trade_id, price, qty, aggressor or 0, ts_ns, seq, 0, 0)
            market.trades.append(trade)
            market.last_trade = trade

    def seed_candles(self, symbol: str, interval: str, rows: Iterable[CandleRow]) -> None:
        """Recent candles from the read model, oldest first (see `CandleRow`); the newest
        becomes the live candle, which later trades of the same bucket extend. Seeding the
        1m interval also fills the 24 h ticker with the minutes of the last day."""
        market = self._market(symbol)
        if interval not in INTERVALS_NS:
            raise UnknownIntervalError(interval)
        history = market.history[interval]
        current = market.candles[interval]
        for start_ns, open_, high, low, close, volume, trades, notional in rows:
            if current is not None:
                history.append(current)
            current = _Candle(start_ns, open_)
            current.high = high
            current.low = low
            current.close = close
            current.volume = volume
            current.trades = trades
            if interval == "1m":
                minute = start_ns // NS_PER_MINUTE
                ticker = market.ticker
                ticker.add(minute, open_, volume, trades, notional)
                ticker.add(minute, high, 0, 0, 0)
                ticker.add(minute, low, 0, 0, 0)
        market.candles[interval] = current

    def _add(self, instrument: Instrument) -> _Market:
        market = _Market(instrument, self.trades_kept, self.candles_kept)
        self._markets[instrument.symbol] = market
        return market

    # ------------------------------------------------------------------ the listener

    def on_batch(self, commands: Sequence[SequencedCommand], events: Sequence[list[Event]]) -> None:
        """Apply one durable batch and publish what changed; see the module docstring."""
        handlers = self._handlers
        touched = self._touched
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
                    self._flush(market, seq, ts)
                touched.clear()

    def _touch(self, symbol: str) -> _Market:
        market = self._markets[symbol]
        if not market.touched:
            market.touched = True
            self._touched.append(market)
        return market

    def _on_level(self, event: LevelUpdated, seq: int, ts: int) -> None:
        self._level(self._touch(event.symbol), event)

    def _on_trade(self, event: TradeExecuted, seq: int, ts: int) -> None:
        self._trade(self._touch(event.symbol), event, seq)

    def _on_auction(self, event: AuctionIndicative | AuctionUncrossed, seq: int, ts: int) -> None:
        self._auction(self._touch(event.symbol), event, seq, ts)

    def _on_instrument(self, event: InstrumentAdded, seq: int, ts: int) -> None:
        self._add(event.instrument)

    def _on_status(self, event: MarketStatusChanged, seq: int, ts: int) -> None:
        market = self._markets[event.symbol]
        market.status = int(event.status)
        market.mode = int(event.mode)

    def _level(self, market: _Market, event: LevelUpdated) -> None:
        price = event.price_ticks
        qty = event.qty_lots
        if event.side == _BUY:
            better = market.bids.set(price, qty, event.order_count)
            market.bid_changes[price] = qty
        else:
            better = market.asks.set(price, qty, event.order_count)
            market.ask_changes[price] = qty
        if 0 <= better < CLASSIC_DEPTH:
            market.top_changed = True

    def _trade(self, market: _Market, event: TradeExecuted, seq: int) -> None:
        aggressor = event.aggressor_side
        price = event.price_ticks
        qty = event.qty_lots
        ts = event.ts_ns
        trade: TradeTuple = (
            event.trade_id,
            price,
            qty,
            0 if aggressor is None else int(aggressor),
            ts,
            seq,
            event.maker_order_id,
            event.taker_order_id,
        )
        market.trades.append(trade)
        market.last_trade = trade
        market.new_trades.append(trade)
        candles = market.candles
        history = market.history
        for name, length in INTERVALS_NS.items():
            start = ts - ts % length
            candle = candles[name]
            if candle is None or candle.start_ns != start:
                if candle is not None:
                    history[name].append(candle)
                candle = _Candle(start, price)
                candles[name] = candle
            candle.high = max(candle.high, price)
            candle.low = min(candle.low, price)
            candle.close = price
            candle.volume += qty
            candle.trades += 1
        market.ticker.add(ts // NS_PER_MINUTE, price, qty)

    def _auction(
        self, market: _Market, event: AuctionIndicative | AuctionUncrossed, seq: int, ts: int
    ) -> None:
        price_text = None if event.price_ticks is None else market.price(event.price_ticks)
        message: dict[str, Any]
        if type(event) is AuctionIndicative:
            message = {
                "channel": market.ch_auction,
                "type": "indicative",
                "seq": seq,
                "ts": ts,
                "price": price_text,
                "paired_quantity": market.qty(event.paired_lots),
                "imbalance_quantity": market.qty(event.imbalance_lots),
                "imbalance_side": _side_name(event.imbalance_side),
                "best_bid": _opt(market.price, event.best_bid_ticks),
                "best_ask": _opt(market.price, event.best_ask_ticks),
            }
        else:
            assert type(event) is AuctionUncrossed
            message = {
                "channel": market.ch_auction,
                "type": "uncrossed",
                "seq": seq,
                "ts": ts,
                "price": price_text,
                "paired_quantity": market.qty(event.volume_lots),
                "imbalance_quantity": "0",
                "imbalance_side": None,
                "trade_count": event.trade_count,
            }
        if type(event) is AuctionUncrossed:
            market.auction_uncrossed = message
        market.auction = message
        # Unlike the other channels, every auction event is published: an uncross is followed
        # in the same command by the next call's (empty) indicative, and both matter.
        market.new_auctions.append(message)

    def _flush(self, market: _Market, seq: int, ts: int) -> None:
        """Publish what one command changed in one market and reset its scratch."""
        market.touched = False
        hub = self.hub
        bid_changes = market.bid_changes
        ask_changes = market.ask_changes
        if bid_changes or ask_changes:
            prev_seq = market.book_seq
            market.book_seq = seq
            market.book_ts = ts
            if hub is not None and hub.has_subscribers(market.ch_book):
                hub.publish(
                    market.ch_book,
                    _encode(
                        {
                            "channel": market.ch_book,
                            "type": "delta",
                            "seq": seq,
                            "prev_seq": prev_seq,
                            "ts": ts,
                            "bids": _changes(market, bid_changes, reverse=True),
                            "asks": _changes(market, ask_changes, reverse=False),
                        }
                    ),
                )
            bid_changes.clear()
            ask_changes.clear()
            bbo = _bbo_of(market)
            if bbo != market.bbo:
                market.bbo = bbo
                if hub is not None and hub.has_subscribers(market.ch_bbo):
                    hub.publish(market.ch_bbo, self._bbo_message(market))
            if market.top_changed:
                market.top_changed = False
                if hub is not None and hub.has_subscribers(market.ch_classic_book):
                    hub.publish(market.ch_classic_book, _classic_book(market, ts))
        new_trades = market.new_trades
        if new_trades:
            if hub is not None:
                self._publish_trades(hub, market, new_trades)
            new_trades.clear()
        new_auctions = market.new_auctions
        if new_auctions:
            if hub is not None and hub.has_subscribers(market.ch_auction):
                for message in new_auctions:
                    hub.publish(market.ch_auction, _encode(message))
            new_auctions.clear()

    def _publish_trades(self, hub: Hub, market: _Market, new_trades: list[TradeTuple]) -> None:
        price = market.price
        qty = market.qty
        symbol = market.symbol
        if hub.has_subscribers(market.ch_trades):
            channel = market.ch_trades
            for trade_id, px, lots, aggressor, ts, seq, _maker, _taker in new_trades:
                hub.publish(
                    channel,
                    _encode(
                        {
                            "channel": channel,
                            "trade_id": trade_id,
                            "price": price(px),
                            "quantity": qty(lots),
                            "aggressor_side": _SIDE_NAMES.get(aggressor),
                            "seq": seq,
                            "ts": ts,
                        }
                    ),
                )
        if hub.has_subscribers(market.ch_classic_trades):
            channel = market.ch_classic_trades
            for trade_id, px, lots, aggressor, ts, _seq, maker, taker in new_trades:
                hub.publish(
                    channel,
                    _encode(
                        {
                            "timestamp": ts // NS_PER_MS,
                            "symbol": symbol,
                            "trade_id": trade_id,
                            "price": price(px),
                            "quantity": qty(lots),
                            "aggressor_side": _SIDE_NAMES.get(aggressor),
                            "maker_order_id": maker,
                            "taker_order_id": taker,
                        }
                    ),
                )
        for name, channel in market.ch_candles.items():
            if hub.has_subscribers(channel):
                candle = market.candles[name]
                assert candle is not None  # a trade just made or extended it
                hub.publish(channel, _encode(_candle_message(market, name, candle, channel)))
        if hub.has_subscribers(market.ch_ticker):
            hub.publish(market.ch_ticker, _encode(self._ticker_message(market)))

    # ------------------------------------------------------------------ messages

    def _bbo_message(self, market: _Market) -> bytes:
        bid_price, bid_qty, ask_price, ask_qty = market.bbo
        return _encode(
            {
                "channel": market.ch_bbo,
                "seq": market.book_seq,
                "ts": market.book_ts,
                "bid": [market.price(bid_price), market.qty(bid_qty)] if bid_qty else None,
                "ask": [market.price(ask_price), market.qty(ask_qty)] if ask_qty else None,
            }
        )

    def _ticker_message(self, market: _Market) -> dict[str, Any]:
        return {"channel": market.ch_ticker, **self._ticker(market)}

    def _ticker(self, market: _Market) -> dict[str, Any]:
        ticker = market.ticker
        ticker.expire(self.last_ts_ns // NS_PER_MINUTE)
        last = market.last_trade
        last_price = None if last is None else last[1]
        units = market.units
        if ticker.minutes:
            open_ = ticker.minutes[0].open
            high: int | None = ticker.highs[0][1]
            low: int | None = ticker.lows[0][1]
        else:
            open_ = None
            high = low = None
        change = change_percent = None
        if open_ is not None and last_price is not None:
            change = units.price(last_price - open_) if last_price != open_ else "0"
            change_percent = str(
                (Decimal(last_price - open_) * _HUNDRED / Decimal(open_)).quantize(_CENT)
            )
        return {
            "symbol": market.symbol,
            "open": _opt(market.price, open_),
            "high": _opt(market.price, high),
            "low": _opt(market.price, low),
            "last": _opt(market.price, last_price),
            "volume": units.qty(ticker.volume) if ticker.volume else "0",
            "quote_volume": (
                units.quote(ticker.notional * market.instrument.notional_per_tick_lot)
                if ticker.notional
                else "0"
            ),
            "trades": ticker.trades,
            "price_change": change,
            "price_change_percent": change_percent,
            "seq": self.last_seq,
            "ts": self.last_ts_ns,
        }

    # ------------------------------------------------------------------ reads (REST, WS)

    def has(self, symbol: str) -> bool:
        return symbol in self._markets

    def symbols(self) -> list[str]:
        return list(self._markets)

    def instruments(self) -> list[dict[str, Any]]:
        return [_instrument_dict(market) for market in self._markets.values()]

    def instrument(self, symbol: str) -> Instrument:
        return self._market(symbol).instrument

    def units(self, symbol: str) -> Units:
        return self._market(symbol).units

    def book(self, symbol: str, depth: int = 100) -> dict[str, Any]:
        market = self._market(symbol)
        return {
            "symbol": symbol,
            "seq": market.book_seq,
            "bids": _levels(market, market.bids.top(depth)),
            "asks": _levels(market, market.asks.top(depth)),
        }

    def book_levels(self, symbol: str) -> tuple[list[tuple[int, int, int]], ...]:
        """Every level as integers, best first: ([(price, qty, count)...] bids, asks)."""
        market = self._market(symbol)
        out: list[list[tuple[int, int, int]]] = []
        for side in (market.bids, market.asks):
            levels = side.levels
            out.append(
                [
                    (price, *levels[price])
                    for price in (key * side.sign for key in reversed(side.keys))
                ]
            )
        return out[0], out[1]

    def book_seq(self, symbol: str) -> int:
        return self._market(symbol).book_seq

    def bbo(self, symbol: str) -> dict[str, Any]:
        market = self._market(symbol)
        bid_price, bid_qty, ask_price, ask_qty = market.bbo
        return {
            "symbol": symbol,
            "seq": market.book_seq,
            "bid": [market.price(bid_price), market.qty(bid_qty)] if bid_qty else None,
            "ask": [market.price(ask_price), market.qty(ask_qty)] if ask_qty else None,
        }

    def trades(self, symbol: str, limit: int = 100) -> list[dict[str, Any]]:
        """The most recent trades, newest first."""
        market = self._market(symbol)
        out: list[dict[str, Any]] = []
        for trade_id, price, qty, aggressor, ts, seq, _maker, _taker in reversed(market.trades):
            if len(out) >= limit:
                break
            out.append(
                {
                    "trade_id": trade_id,
                    "price": market.price(price),
                    "quantity": market.qty(qty),
                    "aggressor_side": _SIDE_NAMES.get(aggressor),
                    "seq": seq,
                    "ts": ts,
                }
            )
        return out

    def last_price(self, symbol: str) -> str | None:
        last = self._market(symbol).last_trade
        return None if last is None else self._market(symbol).price(last[1])

    def ticker(self, symbol: str) -> dict[str, Any]:
        return self._ticker(self._market(symbol))

    def auction(self, symbol: str) -> dict[str, Any] | None:
        """The symbol's last auction message (indicative or uncrossed; flat, as published but
        without "channel"), with `last_uncross` the last uncross message (or None); None if
        the symbol never had an auction event."""
        market = self._market(symbol)
        latest = _without_channel(market.auction)
        if latest is None:
            return None
        return {
            "symbol": symbol,
            **latest,
            "last_uncross": _without_channel(market.auction_uncrossed),
        }

    def candles(self, symbol: str, interval: str) -> list[dict[str, Any]]:
        """The candles held for `interval`, oldest first, the live one last."""
        market = self._market(symbol)
        if interval not in INTERVALS_NS:
            raise UnknownIntervalError(interval)
        rows = list(market.history[interval])
        current = market.candles[interval]
        if current is not None:
            rows.append(current)
        return [_candle_dict(market, interval, candle) for candle in rows]

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
        if kind == "book":
            return self._book_snapshot(market)
        if kind == "bbo":
            return self._bbo_message(market)
        if kind == "ticker":
            return _encode(self._ticker_message(market))
        if kind == "auction":
            return None if market.auction is None else _encode(market.auction)
        if kind == "classic.book":
            return _classic_book(market, market.book_ts)
        if kind == "candles":
            candle = market.candles[interval]
            if candle is None:
                return None
            return _encode(_candle_message(market, interval, candle, channel))
        return None  # trades, classic.trades: no snapshot

    def _book_snapshot(self, market: _Market) -> bytes:
        cached = market.snapshot_cache
        if cached is not None and cached[0] == market.book_seq:
            return cached[2]
        depth = self.snapshot_depth
        payload = _encode(
            {
                "channel": market.ch_book,
                "type": "snapshot",
                "seq": market.book_seq,
                "ts": market.book_ts,
                "bids": market.bids.top_texts(depth, market.price, market.qty),
                "asks": market.asks.top_texts(depth, market.price, market.qty),
            }
        )
        market.snapshot_cache = (market.book_seq, market.book_ts, payload)
        return payload

    def _parse(self, channel: str) -> tuple[str, _Market, str] | None:
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

    def _market(self, symbol: str) -> _Market:
        market = self._markets.get(symbol)
        if market is None:
            raise UnknownSymbol(symbol)
        return market


# ---------------------------------------------------------------------- helpers


def _opt(format_: Callable[[int], str], value: int | None) -> str | None:
    return None if value is None else format_(value)


def _without_channel(message: dict[str, Any] | None) -> dict[str, Any] | None:
    if message is None:
        return None
    return {key: value for key, value in message.items() if key != "channel"}


def _side_name(side: Side | None) -> str | None:
    return None if side is None else _SIDE_NAMES[int(side)]


def _bbo_of(market: _Market) -> tuple[int, int, int, int]:
    bid = market.bids.best()
    ask = market.asks.best()
    return (
        0 if bid is None else bid[0],
        0 if bid is None else bid[1],
        0 if ask is None else ask[0],
        0 if ask is None else ask[1],
    )


def _levels(market: _Market, levels: list[tuple[int, int]]) -> list[list[str]]:
    price = market.price
    qty = market.qty
    return [[price(px), qty(lots)] for px, lots in levels]


def _changes(market: _Market, changes: dict[int, int], *, reverse: bool) -> list[list[str]]:
    """One command's level changes of one side, best first (a handful: sorting is cheap)."""
    price = market.price
    qty = market.qty
    if len(changes) == 1:
        for px, lots in changes.items():
            return [[price(px), qty(lots) if lots else "0"]]
    return [
        [price(px), qty(changes[px]) if changes[px] else "0"]
        for px in sorted(changes, reverse=reverse)
    ]


def _classic_book(market: _Market, ts: int) -> bytes:
    return _encode(
        {
            "timestamp": ts // NS_PER_MS,
            "symbol": market.symbol,
            "asks": market.asks.top_texts(CLASSIC_DEPTH, market.price, market.qty),
            "bids": market.bids.top_texts(CLASSIC_DEPTH, market.price, market.qty),
        }
    )


def _candle_dict(market: _Market, interval: str, candle: _Candle) -> dict[str, Any]:
    price = market.price
    return {
        "interval": interval,
        "start": candle.start_ns // NS_PER_MS,
        "open": price(candle.open),
        "high": price(candle.high),
        "low": price(candle.low),
        "close": price(candle.close),
        "volume": market.qty(candle.volume) if candle.volume else "0",
        "trades": candle.trades,
    }


def _candle_message(
    market: _Market, interval: str, candle: _Candle, channel: str
) -> dict[str, Any]:
    return {"channel": channel, **_candle_dict(market, interval, candle)}


def _instrument_dict(market: _Market) -> dict[str, Any]:
    instrument = market.instrument
    units = market.units
    return {
        "symbol": instrument.symbol,
        "base_asset": instrument.base_asset,
        "quote_asset": instrument.quote_asset,
        "tick_size": instrument.tick_size,
        "lot_size": instrument.lot_size,
        "base_decimals": instrument.base_decimals,
        "quote_decimals": instrument.quote_decimals,
        "min_quantity": units.qty(instrument.min_qty_lots),
        "max_quantity": _opt(units.qty, instrument.max_qty_lots),
        "min_notional": units.quote(instrument.min_notional) if instrument.min_notional else "0",
        "price_band_bps": instrument.price_band_bps,
        "status": _STATUS_NAMES.get(market.status, str(market.status)),
        "mode": _MODE_NAMES.get(market.mode, str(market.mode)),
        "auction_interval_ns": instrument.auction_interval_ns,
    }
