"""Hypothesis strategies and settings shared by the property tests.

Settings: `ci_friendly_settings` runs a fixed set of examples when the environment says CI (so
a red build is reproducible and a green one stays green for the same code) and fresh random
ones elsewhere, remembered in the local example database (`.hypothesis/`, git-ignored).

Two families of strategies:
- `place_orders`: well-formed LIMIT/MARKET orders for one continuous market without a price
  band (what the reference book models), in a narrow band of prices so that orders cross often.
- `journals`: whole command journals for a venue with several markets and accounts, mixing
  every command the core knows, well-formed or not, for the determinism properties.
"""

from __future__ import annotations

import os
from typing import Any, Literal

import msgspec
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from venue.domain.commands import (
    AddInstrument,
    CancelAllOrders,
    CancelOrder,
    Command,
    CreateAccount,
    Deposit,
    HaltMarket,
    PlaceOrder,
    ReplaceOrder,
    ResumeMarket,
    SequencedCommand,
    SetFeeTier,
    SetKillSwitch,
    SetMarketMode,
    SetRiskProfile,
    TakeSnapshot,
    Tick,
    Uncross,
    UpdateAccount,
    Withdraw,
)
from venue.domain.instrument import Instrument
from venue.domain.values import (
    NS_PER_DAY,
    MarketMode,
    OrderType,
    SelfTradePrevention,
    Side,
    TimeInForce,
)

IN_CI = "CI" in os.environ


def ci_friendly_settings(**overrides: Any) -> settings:
    """No deadline (shared CI machines stall), derandomized and without a database in CI, and
    the failing example printed as a reproducible blob."""
    options: dict[str, Any] = {
        "deadline": None,
        "derandomize": IN_CI,
        "database": None if IN_CI else settings().database,
        "print_blob": True,
        "suppress_health_check": [HealthCheck.too_slow],
    }
    options.update(overrides)
    return settings(**options)


# ---------------------------------------------------------------------- one book

SYMBOL = "PROP-USD"
INSTRUMENT = Instrument.create(SYMBOL, "PROP", "USD", "1", "1", 0, 0)
ACCOUNTS = (1, 2, 3)
LOW_PRICE = 97
MID_PRICE = 100
HIGH_PRICE = 103

Shape = Literal["limit", "ioc", "fok", "post_only", "iceberg", "market", "market_fok"]
RESTING: tuple[Shape, ...] = ("limit", "limit", "post_only", "iceberg", "iceberg")
TAKING: tuple[Shape, ...] = ("limit", "ioc", "fok", "fok", "market", "market_fok")


@st.composite
def place_orders(draw: st.DrawFn, shapes: tuple[Shape, ...], passive: bool) -> PlaceOrder:
    """A well-formed order. A passive one is priced on its own side of the middle, so depth
    builds up (several orders per level, across levels) instead of being traded away at once."""
    account = draw(st.sampled_from(ACCOUNTS))
    side = draw(st.sampled_from(Side))
    if not passive:
        price = draw(st.integers(LOW_PRICE, HIGH_PRICE))
    elif side == Side.BUY:
        price = draw(st.integers(LOW_PRICE, MID_PRICE))
    else:
        price = draw(st.integers(MID_PRICE, HIGH_PRICE))
    stp = draw(st.sampled_from(SelfTradePrevention))
    shape = draw(st.sampled_from(shapes))
    if shape == "iceberg":  # mostly with a hidden reserve
        display = draw(st.integers(1, 3))
        qty = draw(st.integers(display, 8))
        return PlaceOrder(
            account,
            SYMBOL,
            side,
            OrderType.LIMIT,
            qty,
            price_ticks=price,
            display_qty_lots=display,
            stp=stp,
        )
    qty = draw(st.integers(1, 6))
    if shape in ("market", "market_fok"):
        tif = TimeInForce.FOK if shape == "market_fok" else TimeInForce.IOC
        return PlaceOrder(account, SYMBOL, side, OrderType.MARKET, qty, tif=tif, stp=stp)
    tif = {"ioc": TimeInForce.IOC, "fok": TimeInForce.FOK}.get(shape, TimeInForce.GTC)
    return PlaceOrder(
        account,
        SYMBOL,
        side,
        OrderType.LIMIT,
        qty,
        price_ticks=price,
        tif=tif,
        post_only=shape == "post_only",
        stp=stp,
    )


# ---------------------------------------------------------------------- whole journals

# Three markets sharing the quote asset: plain, banded with a reference price, and a periodic
# call market. Prices are drawn around each market's `centre`.
MARKETS: tuple[tuple[Instrument, int], ...] = (
    (Instrument.create("AAA-USD", "AAA", "USD", "1", "1", 0, 2), 100),
    (
        Instrument.create(
            "BBB-USD",
            "BBB",
            "USD",
            "0.1",
            "0.1",
            1,
            2,
            price_band_bps=500,
            reference_price_ticks=10_000,
        ),
        10_000,
    ),
    (
        Instrument.create(
            "CCC-USD", "CCC", "USD", "1", "1", 0, 2, mode=MarketMode.CALL, auction_interval_ns=4_000
        ),
        100,
    ),
)
SYMBOLS = tuple(instrument.symbol for instrument, _ in MARKETS)
ASSETS = ("USD", "AAA", "BBB", "CCC")
# The setup gives these seqs to the accounts it creates (account id = seq of CreateAccount).
SETUP: tuple[Command, ...] = (
    *(AddInstrument(instrument) for instrument, _ in MARKETS),
    SetFeeTier("maker", -1, 5),
    SetRiskProfile("tight", max_open_orders=4, max_position_lots=30),
    CreateAccount(),
    CreateAccount("maker"),
    CreateAccount("default", "tight"),
)
JOURNAL_ACCOUNTS = (6, 7, 8)
FUNDING: tuple[Command, ...] = tuple(
    Deposit(account, asset, 10_000_000) for account in JOURNAL_ACCOUNTS for asset in ASSETS
)
STEP_NS = 1_000
ORDER_TYPES = (OrderType.LIMIT,) * 4 + tuple(OrderType)
TIMES_IN_FORCE = (TimeInForce.GTC,) * 3 + tuple(TimeInForce)


@st.composite
def journal_orders(draw: st.DrawFn) -> PlaceOrder:
    """Any order type and time in force, mostly well-formed. A GTD order's `expire_ts_ns` is an
    offset here; `journals` adds the command's time to it."""
    instrument, centre = draw(st.sampled_from(MARKETS))
    order_type = draw(st.sampled_from(ORDER_TYPES))
    side = draw(st.sampled_from(Side))
    spread = max(1, centre // 20)
    price = draw(st.integers(centre - spread, centre + spread))
    tif = draw(st.sampled_from(TIMES_IN_FORCE))
    market_buy = order_type in (OrderType.MARKET, OrderType.STOP_MARKET) and side == Side.BUY
    return PlaceOrder(
        account_id=draw(st.sampled_from((*JOURNAL_ACCOUNTS, *JOURNAL_ACCOUNTS, 99))),
        symbol=instrument.symbol,
        side=side,
        order_type=order_type,
        qty_lots=draw(st.sampled_from((1, 2, 3, 4, 5, 6, 7, 8, 0))),
        price_ticks=price if order_type.has_limit_price else None,
        stop_price_ticks=(
            draw(st.integers(centre - spread, centre + spread)) if order_type.is_triggered else None
        ),
        tif=tif,
        expire_ts_ns=draw(st.integers(1, 20)) * STEP_NS if tif == TimeInForce.GTD else None,
        post_only=draw(st.sampled_from((False, False, False, True))),
        display_qty_lots=draw(st.sampled_from((None, None, None, 1, 2))),
        stp=draw(st.sampled_from(SelfTradePrevention)),
        quote_qty=draw(st.one_of(st.none(), st.integers(1, 5_000_000))) if market_buy else None,
    )


def journal_commands(max_order_id: int) -> st.SearchStrategy[Command]:
    """Any command; two thirds of them new orders. Ids and accounts are often wrong on purpose."""
    accounts = st.sampled_from((*JOURNAL_ACCOUNTS, 99))
    symbols = st.sampled_from(SYMBOLS)
    order_ids = st.integers(1, max_order_id)
    maybe_qty = st.one_of(st.none(), st.integers(0, 9))
    maybe_price = st.one_of(st.none(), st.integers(90, 110), st.integers(9_500, 10_500))
    others: list[st.SearchStrategy[Command]] = [
        st.builds(CancelOrder, accounts, order_ids),
        st.builds(ReplaceOrder, accounts, order_ids, maybe_qty, maybe_price, maybe_price),
        st.builds(CancelAllOrders, accounts, st.one_of(st.none(), symbols)),
        st.just(Tick()),
        st.just(TakeSnapshot()),
        st.one_of(st.builds(HaltMarket, symbols), st.builds(ResumeMarket, symbols)),
        st.builds(
            SetMarketMode,
            symbols,
            st.sampled_from(MarketMode),
            st.one_of(st.none(), st.integers(0, 8_000)),
        ),
        st.builds(Uncross, symbols),
        st.builds(Deposit, accounts, st.sampled_from(ASSETS), st.integers(-5, 50_000)),
        st.builds(Withdraw, accounts, st.sampled_from(ASSETS), st.integers(-5, 500_000)),
        st.builds(SetKillSwitch, st.sampled_from((None, *JOURNAL_ACCOUNTS)), st.booleans()),
        st.builds(UpdateAccount, accounts, st.sampled_from((None, "default", "maker", "gold"))),
    ]
    orders: st.SearchStrategy[Command] = journal_orders()
    return st.sampled_from((orders,) * 2 * len(others) + tuple(others)).flatmap(lambda kind: kind)


MAX_JOURNAL_COMMANDS = 80
_COMMANDS = journal_commands(len(SETUP) + len(FUNDING) + MAX_JOURNAL_COMMANDS + 1)
_TIME_STEPS = st.sampled_from((0, STEP_NS, STEP_NS, 3 * STEP_NS, NS_PER_DAY))


@st.composite
def journals(draw: st.DrawFn) -> list[SequencedCommand]:
    """A journal: the fixed setup and funding, then random commands with non-decreasing time
    (sometimes jumping a day, so DAY orders expire)."""
    journal: list[SequencedCommand] = []
    ts = 0
    for command in (*SETUP, *FUNDING):
        journal.append(SequencedCommand(len(journal) + 1, ts, command))
    steps = st.lists(st.tuples(_TIME_STEPS, _COMMANDS), min_size=10, max_size=MAX_JOURNAL_COMMANDS)
    for step_ns, drawn in draw(steps):
        ts += step_ns
        command = drawn
        if isinstance(drawn, PlaceOrder) and drawn.expire_ts_ns is not None:
            command = msgspec.structs.replace(drawn, expire_ts_ns=ts + drawn.expire_ts_ns)
        journal.append(SequencedCommand(len(journal) + 1, ts, command))
    return journal
