"""One symbol's market data state (`Market`), and the instrument as the REST API shows it.

Invariants:
- A `Market` holds everything the projection knows about one symbol: the L2 sides and BBO
  (`book`), recent trades (`trades`), candles (`venue.views.candles.Candles`), the 24 h
  ticker (`ticker`) and the last auction messages (`auction`), plus the scratch of the
  command being applied (`bid_changes`, `ask_changes`, `top_changed`, `new_trades`,
  `new_auctions`), which `publish.flush` empties after each command that touched it.
- Channel names are made once per symbol, here, never per message.
- Prices and quantities stay integer ticks and lots; text is made only by the symbol's
  `Units`, through its `price` / `qty` memos (`text.Memo`).
- Bounded: trades (`trades_kept`), closed candles per interval (`candles_kept`), 24 h
  ticker buckets (`ticker.TICKER_WINDOW_MINUTES`).
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any, Final

from venue.domain.instrument import Instrument
from venue.domain.units import Units
from venue.domain.values import MarketStatus
from venue.marketdata.book import L2Side
from venue.marketdata.text import Memo, opt
from venue.marketdata.ticker import Ticker
from venue.views.candles import INTERVAL_INDEX, Candles

if TYPE_CHECKING:
    from venue.marketdata.trades import TradeTuple

_STATUS_NAMES: Final[dict[int, str]] = {1: "open", 2: "halted"}
_MODE_NAMES: Final[dict[int, str]] = {1: "continuous", 2: "call"}


class UnknownSymbol(KeyError):  # noqa: N818 (the name the gateway expects)
    """No instrument of that symbol is known to the projection."""


class Market:
    """Everything the projection holds about one symbol, plus the scratch of the command being
    applied (`bid_changes`, `ask_changes`, `new_trades`, ... reset by `publish.flush`)."""

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
        self.price = Memo(self.units.price)
        self.qty = Memo(self.units.qty)
        self.status = int(MarketStatus.OPEN)
        self.mode = int(instrument.mode)
        self.bids = L2Side(1)
        self.asks = L2Side(-1)
        self.book_seq = 0
        self.book_ts = 0
        self.bbo: tuple[int, int, int, int] = (0, 0, 0, 0)  # bid px, bid qty, ask px, ask qty
        self.last_trade: TradeTuple | None = None
        self.trades: deque[TradeTuple] = deque(maxlen=trades_kept)
        self.candles = Candles(candles_kept)
        self.ticker = Ticker()
        # The last auction message (the snapshot), and the last uncross.
        self.auction: dict[str, Any] | None = None
        self.auction_uncrossed: dict[str, Any] | None = None
        # (seq, ts_ns, bytes) of the last book snapshot, reused until the book changes
        self.snapshot_cache: tuple[int, int, bytes] | None = None
        self.ch_book = f"book.{symbol}"
        self.ch_bbo = f"bbo.{symbol}"
        self.ch_trades = f"trades.{symbol}"
        self.ch_ticker = f"ticker.{symbol}"
        self.ch_auction = f"auction.{symbol}"
        # (index in `candles`, interval name, channel) of each interval
        self.ch_candles: tuple[tuple[int, str, str], ...] = tuple(
            (index, name, f"candles.{symbol}.{name}") for name, index in INTERVAL_INDEX.items()
        )
        self.ch_classic_book = f"classic.book.{symbol}"
        self.ch_classic_trades = f"classic.trades.{symbol}"
        # Scratch of the current command.
        self.touched = False
        self.bid_changes: dict[int, int] = {}
        self.ask_changes: dict[int, int] = {}
        self.top_changed = False
        self.new_trades: list[TradeTuple] = []
        self.new_auctions: list[dict[str, Any]] = []


def instrument_dict(market: Market) -> dict[str, Any]:
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
        "max_quantity": opt(units.qty, instrument.max_qty_lots),
        "min_notional": units.quote(instrument.min_notional) if instrument.min_notional else "0",
        "price_band_bps": instrument.price_band_bps,
        "status": _STATUS_NAMES.get(market.status, str(market.status)),
        "mode": _MODE_NAMES.get(market.mode, str(market.mode)),
        "auction_interval_ns": instrument.auction_interval_ns,
    }
