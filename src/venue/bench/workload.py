"""Standard matching workloads (../shared/workloads/README.md): loading and the end-state check.

A workload is a gzip CSV `op,order_id,side,price_ticks,qty_lots`, one operation a line:
`L` a GTC limit order, `C` a cancel of a live order, `M` a market order. `load_workload` turns
it into the `SequencedCommand`s the sequencer would produce, all built before any timing:

- seq 1 is an `AddInstrument` for one symbol with tick = lot = 1 and 0 decimals, so workload
  prices and quantities are ticks and lots as they stand; no price band (market orders are
  bounded by the book alone) and a book limit above the workload's number of limit orders;
- line n (1-based, header excluded) is seq n + 1 at ts_ns = seq * 1000;
- the venue's order id is the seq of the placing command, so the loader maps workload ids to
  seqs, and a cancel names the seq of its order;
- every order has its own account (account id = workload order id): the workloads promise
  distinct owners, so there is no self-trade prevention to trigger.

The end-state check compares what a replay ended with against `<name>.expected.json`:
fill count and traded quantity from the TradeExecuted events; best prices, volumes, resting
orders and levels from the final state; the same book figures a second time from the
LevelUpdated events alone (so the event stream is checked too); max_resting from the events;
the op counts from the loader; and no command may be rejected.

Known limitation: `book_figures` reads the engine's book (markets, levels, orders); it is the
one place here that knows those names.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from venue.core import VenueState, apply
from venue.domain.commands import (
    AddInstrument,
    CancelOrder,
    Command,
    CreateAccount,
    Deposit,
    PlaceOrder,
    SequencedCommand,
)
from venue.domain.events import (
    CommandRejected,
    Event,
    LevelUpdated,
    OrderRejected,
    TradeExecuted,
)
from venue.domain.instrument import Instrument
from venue.domain.values import OrderType, Side

HEADER = "op,order_id,side,price_ticks,qty_lots"
DEFAULT_SYMBOL = "W"
TS_STEP_NS = 1000
# Figures of an expected.json that describe the workload rather than an end state.
INFORMATIONAL_KEYS = frozenset({"seed"})


class WorkloadError(ValueError):
    """A workload file that cannot be replayed as written (bad line, unknown order id...)."""


@dataclass(frozen=True)
class Workload:
    """A workload ready to replay: `setup` first (untimed), then `ops`, one per line."""

    name: str
    path: Path
    symbol: str
    setup: list[SequencedCommand]
    ops: list[SequencedCommand]
    n_limit: int
    n_cancel: int
    n_market: int
    accounts: bool = False  # replayed on a venue with accounts (bench engine --with-accounts)

    @property
    def n_ops(self) -> int:
        return len(self.ops)

    @property
    def commands(self) -> list[SequencedCommand]:
        return self.setup + self.ops


def workload_name(path: Path) -> str:
    """`w1` for `.../w1.csv.gz` (or `w1.csv`)."""
    name = path.name
    for suffix in (".gz", ".csv"):
        name = name.removesuffix(suffix)
    return name


def expected_path(path: Path) -> Path:
    return path.with_name(f"{workload_name(path)}.expected.json")


def benchmark_instrument(symbol: str, max_book_orders: int) -> Instrument:
    return Instrument.create(
        symbol,
        f"{symbol}BASE",
        f"{symbol}QUOTE",
        "1",
        "1",
        0,
        0,
        max_book_orders=max(1, max_book_orders),
    )


def load_workload(
    path: Path, *, symbol: str = DEFAULT_SYMBOL, limit: int | None = None
) -> Workload:
    """Read a workload (gzip or plain CSV) into sequenced commands; `limit` keeps the first
    lines only. Raises WorkloadError on a malformed line, naming it."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="ascii", newline="") as stream:
        return _parse(path, stream, symbol, limit)


def _parse(path: Path, stream: IO[str], symbol: str, limit: int | None) -> Workload:
    header = stream.readline().strip()
    if header != HEADER:
        raise WorkloadError(f"{path}: header is {header!r}, expected {HEADER!r}")
    ops: list[SequencedCommand] = []
    seq_of: dict[int, int] = {}  # live workload order id -> venue order id (seq)
    counts = {"L": 0, "C": 0, "M": 0}
    seq = 1
    for number, line in enumerate(stream, start=2):
        if limit is not None and len(ops) >= limit:
            break
        if not line.strip():
            continue
        seq += 1
        try:
            command = _command(line, symbol, seq, seq_of)
        except (ValueError, KeyError) as exc:
            raise WorkloadError(f"{path}:{number}: {exc}: {line.strip()!r}") from exc
        counts[line[0]] += 1
        ops.append(SequencedCommand(seq, seq * TS_STEP_NS, command))
    instrument = benchmark_instrument(symbol, counts["L"] + 1)
    setup = [SequencedCommand(1, TS_STEP_NS, AddInstrument(instrument))]
    return Workload(
        name=workload_name(path),
        path=path,
        symbol=symbol,
        setup=setup,
        ops=ops,
        n_limit=counts["L"],
        n_cancel=counts["C"],
        n_market=counts["M"],
    )


def _command(line: str, symbol: str, seq: int, seq_of: dict[int, int]) -> PlaceOrder | CancelOrder:
    fields = line.rstrip("\r\n").split(",")
    if len(fields) != 5:
        raise ValueError(f"{len(fields)} fields, expected 5")
    op, id_text, side_text, price_text, qty_text = fields
    workload_id = int(id_text)
    if op == "C":
        if workload_id not in seq_of:
            raise KeyError(f"cancel of order {workload_id}, which was never placed as a limit")
        return CancelOrder(account_id=workload_id, order_id=seq_of.pop(workload_id))
    if side_text == "B":
        side = Side.BUY
    elif side_text == "S":
        side = Side.SELL
    else:
        raise ValueError(f"side {side_text!r} is neither B nor S")
    qty = int(qty_text)
    if op == "L":
        if workload_id in seq_of:
            raise ValueError(f"order id {workload_id} placed twice")
        seq_of[workload_id] = seq
        return PlaceOrder(
            account_id=workload_id,
            symbol=symbol,
            side=side,
            order_type=OrderType.LIMIT,
            qty_lots=qty,
            price_ticks=int(price_text),
        )
    if op == "M":
        return PlaceOrder(
            account_id=workload_id,
            symbol=symbol,
            side=side,
            order_type=OrderType.MARKET,
            qty_lots=qty,
        )
    raise ValueError(f"op {op!r} is none of L, C, M")


# ---------------------------------------------------------------------- end state


@dataclass
class EventTally:
    """What a replay's events say: fills, traded quantity, rejects and the L2 book as rebuilt
    from LevelUpdated alone. Call `observe` with each command's events, in order."""

    n_events: int = 0
    n_fills: int = 0
    traded_qty: int = 0
    rejects: int = 0
    resting: int = 0
    max_resting: int = 0
    # (side, price) -> (visible qty, order count) of every non-empty level
    levels: dict[tuple[int, int], tuple[int, int]] = field(default_factory=dict)

    def observe(self, events: list[Event]) -> None:
        self.n_events += len(events)
        levels = self.levels
        for event in events:
            if isinstance(event, TradeExecuted):
                self.n_fills += 1
                self.traded_qty += event.qty_lots
            elif isinstance(event, LevelUpdated):
                key = (int(event.side), event.price_ticks)
                before = levels.pop(key, None)
                if before is not None:
                    self.resting -= before[1]
                if event.order_count:
                    levels[key] = (event.qty_lots, event.order_count)
                    self.resting += event.order_count
            elif isinstance(event, OrderRejected | CommandRejected):
                self.rejects += 1
        self.max_resting = max(self.max_resting, self.resting)

    def depth(self, side: Side, count: int) -> list[tuple[int, int, int]]:
        """(price, qty, orders) of the best `count` levels of one side, from the events."""
        prices = sorted(
            (price for level_side, price in self.levels if level_side == side),
            reverse=side == Side.BUY,
        )
        return [(p, *self.levels[(int(side), p)]) for p in prices[:count]]

    def book_figures(self) -> dict[str, int | None]:
        bids = [(p, q, n) for (s, p), (q, n) in self.levels.items() if s == Side.BUY]
        asks = [(p, q, n) for (s, p), (q, n) in self.levels.items() if s == Side.SELL]
        return _figures(bids, asks)


def book_figures(state: VenueState, symbol: str) -> dict[str, int | None]:
    """Best prices, total remaining quantity, resting orders and levels per side, read from
    the final state (remaining, not just the visible part)."""
    market = state.engine.markets[symbol]
    sides = []
    for book_side in (market.bids, market.asks):
        sides.append(
            [
                (level.price, sum(order.remaining for order in level.orders()), level.count)
                for level in book_side.levels.values()
            ]
        )
    return _figures(sides[0], sides[1])


def _figures(
    bids: list[tuple[int, int, int]], asks: list[tuple[int, int, int]]
) -> dict[str, int | None]:
    return {
        "best_bid": max((p for p, _, _ in bids), default=None),
        "best_ask": min((p for p, _, _ in asks), default=None),
        "bid_vol": sum(q for _, q, _ in bids),
        "ask_vol": sum(q for _, q, _ in asks),
        "resting": sum(n for _, _, n in bids) + sum(n for _, _, n in asks),
        "bid_levels": len(bids),
        "ask_levels": len(asks),
    }


@dataclass(frozen=True)
class Check:
    """One figure of the end-state check. `source` says where `actual` came from."""

    key: str
    expected: object
    actual: object
    source: str

    @property
    def ok(self) -> bool:
        return self.expected == self.actual


@dataclass(frozen=True)
class EndStateReport:
    checks: list[Check]
    unchecked: list[str]  # keys of expected.json this checker does not know
    problems: list[str]  # what check_invariants() found, for the reader of a failure

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    @property
    def mismatches(self) -> list[Check]:
        return [check for check in self.checks if not check.ok]

    def table(self, only_mismatches: bool = False) -> str:
        """Plain-text table of expected vs actual, one figure a line."""
        rows = self.mismatches if only_mismatches else self.checks
        lines = [f"{'figure':<16}{'expected':>14}{'actual':>14}  {'':<4}source"]
        for check in rows:
            mark = "ok" if check.ok else "DIFF"
            figures = f"{check.key:<16}{check.expected!s:>14}{check.actual!s:>14}"
            lines.append(f"{figures}  {mark:<4}{check.source}")
        return "\n".join(lines)


def load_expected(path: Path) -> dict[str, int | None]:
    data = json.loads(path.read_text())
    if not isinstance(data, dict):
        raise WorkloadError(f"{path}: expected a JSON object")
    return data


def check_end_state(
    workload: Workload,
    expected: Mapping[str, object],
    state: VenueState,
    tally: EventTally,
) -> EndStateReport:
    """Every figure of `expected` against the replay (see the module docstring for sources).
    Figures the replay must always satisfy (no rejects, the events agree with the state) are
    checked even when `expected` does not name them."""
    from_state = book_figures(state, workload.symbol)
    from_events = tally.book_figures()
    actual: dict[str, tuple[object, str]] = {
        "n_ops": (workload.n_ops, "loader"),
        "n_limit": (workload.n_limit, "loader"),
        "n_cancel": (workload.n_cancel, "loader"),
        "n_market": (workload.n_market, "loader"),
        "n_fills": (tally.n_fills, "TradeExecuted events"),
        "traded_qty": (tally.traded_qty, "TradeExecuted events"),
        "max_resting": (tally.max_resting, "LevelUpdated events"),
    }
    for key, value in from_state.items():
        actual[key] = (value, "final state")
    checks: list[Check] = []
    unchecked: list[str] = []
    for key, want in expected.items():
        if key in INFORMATIONAL_KEYS:
            continue
        if key not in actual:
            unchecked.append(key)
            continue
        got, source = actual[key]
        checks.append(Check(key, want, got, source))
    checks.append(Check("rejects", 0, tally.rejects, "Order/CommandRejected events"))
    problems = state.check_invariants()
    checks.append(Check("broken_invariants", 0, len(problems), "state.check_invariants()"))
    checks.extend(
        Check(f"{key}~events", value, from_events[key], "LevelUpdated events vs final state")
        for key, value in from_state.items()
    )
    return EndStateReport(checks, unchecked, problems)


def replay(state: VenueState, commands: Iterable[SequencedCommand], tally: EventTally) -> None:
    """Apply every command, feeding its events to `tally` (untimed: the checking pass)."""
    for command in commands:
        tally.observe(apply(state, command))


# ---------------------------------------------------------------------- flows with accounts

FROZEN_TS_NS = 1_700_000_000_000_000_000
DEPOSIT_BASE = 10**12  # per account; an asset's total must stay below 2**62 (see domain)
DEPOSIT_QUOTE = 10**16


@dataclass(frozen=True)
class BenchFlow:
    """The commands of one benchmark: `setup` (untimed) then `ops`, unsequenced."""

    setup: list[Command]
    ops: list[Command]
    accounts: bool
    symbol: str

    def sequenced(self) -> list[SequencedCommand]:
        return [
            SequencedCommand(seq, FROZEN_TS_NS, command)
            for seq, command in enumerate(self.setup + self.ops, start=1)
        ]


def bare_flow(workload: Workload) -> BenchFlow:
    return BenchFlow(
        [c.command for c in workload.setup],
        [c.command for c in workload.ops],
        False,
        workload.symbol,
    )


def accounts_flow(
    workload: Workload,
    accounts_per_side: int = 16,
    deposit_base: int = DEPOSIT_BASE,
    deposit_quote: int = DEPOSIT_QUOTE,
) -> BenchFlow:
    """The workload on a venue with accounts (module docstring, step 1)."""
    instrument = workload.setup[0].command
    setup: list[Command] = [instrument]
    buyers = [len(setup) + 1 + i for i in range(accounts_per_side)]
    sellers = [buyers[-1] + 1 + i for i in range(accounts_per_side)]
    setup.extend(CreateAccount() for _ in range(2 * accounts_per_side))
    base, quote = f"{workload.symbol}BASE", f"{workload.symbol}QUOTE"
    for account in buyers + sellers:
        setup.append(Deposit(account, base, deposit_base))
        setup.append(Deposit(account, quote, deposit_quote))
    shift = len(setup) - len(workload.setup)
    owner: dict[int, int] = {}  # order id in the new flow -> its account
    ops: list[Command] = []
    for sequenced in workload.ops:
        command = sequenced.command
        if isinstance(command, PlaceOrder):
            pool = buyers if command.side == Side.BUY else sellers
            account = pool[command.account_id % accounts_per_side]
            owner[sequenced.seq + shift] = account
            ops.append(_with_account(command, account))
        elif isinstance(command, CancelOrder):
            order_id = command.order_id + shift
            ops.append(CancelOrder(owner[order_id], order_id))
        else:  # pragma: no cover - the loader makes places and cancels only
            raise TypeError(f"unexpected {type(command).__name__} in a workload")
    return BenchFlow(setup, ops, True, workload.symbol)


def _with_account(command: PlaceOrder, account: int) -> PlaceOrder:
    return PlaceOrder(
        account,
        command.symbol,
        command.side,
        command.order_type,
        command.qty_lots,
        command.price_ticks,
    )
