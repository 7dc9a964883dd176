"""Scenario tables: a small text format of commands and the events and book they must produce.

A scenario file (`*.scn`) reads top to bottom. Unindented lines are commands, applied in order
through `venue.core.apply` with seq 1, 2, 3, ...; indented lines under a command are what that
command must produce. `#` starts a comment.

    # FIFO at one price: the older order fills first
    instrument X tick=1 lot=1
    o1: place A sell limit 5 @ 100
    o2: place B sell limit 5 @ 100
    o3: place C buy limit 7 @ 100
      trade 100 x 5 maker=o1 taker=o3
      trade 100 x 2 maker=o2 taker=o3
      book bids - | asks 100x3/1
      bbo - / 100

Header lines: `# xfail: <reason>` marks the scenario as a known engine bug (strict xfail).

Commands (a `label:` in front of `place` names the order; its id is the command's seq):

    instrument SYM [tick=1] [lot=1] [base=SYM] [quote=USD] [base_decimals=0] [quote_decimals=0]
                   [min_qty=N] [max_qty=N] [min_notional=N] [band_bps=N] [reference=P]
                   [mode=call|continuous] [interval=TIME] [session_close=TIME] [max_orders=N]
    at TIME                       time of the commands that follow (TIME: 1500, 2s, 1d+16h ...)
    place ACCOUNT buy|sell TYPE QTY [@ PRICE] [stop=P] [tif=gtc|ioc|fok|gtd|day] [expire=TIME]
          [display=N] [post_only] [stp=cancel_newest|cancel_oldest|cancel_both|decrement]
          [symbol=SYM] [cid=TEXT]
          TYPE: limit market stop_market stop_limit take_profit take_profit_limit
    cancel ACCOUNT ORDER
    replace ACCOUNT ORDER [qty=N] [price=P] [stop=P]
    cancel_all ACCOUNT [SYM]
    tick | halt [SYM] | resume [SYM] | uncross [SYM] | mode call|continuous [interval=TIME] [SYM]

ORDER is a label or `id:N`. Accounts are names, numbered 1, 2, 3 ... by first appearance.
Commands without a symbol act on the first instrument declared.

Expectations of the *significant* kinds must equal exactly, in order, the command's events of
those kinds (nothing missing, nothing extra; an unlisted kind means "none of these"):

    trade P x Q maker=ORDER taker=ORDER [maker_left=N] [taker_left=N]
    reject REASON                       OrderRejected / CommandRejected, e.g. price_out_of_band
    canceled ORDER REASON left=N        reason: user ioc_remainder market_remainder ...
    reduced ORDER by N left=N           self-trade prevention, decrement-and-cancel
    expired ORDER left=N
    triggered ORDER at P                a stop / take-profit reached by the last price P
    replaced ORDER [price=P] [stop=P] qty=N left=N priority=kept|lost
    uncrossed [SYM] P|- x VOLUME trades=N
    indicative [SYM] P|- paired=N imbalance=N [buy|sell] bid=P|- ask=P|-

These are checked only when listed (then exactly, in order, as a list of their own kind):

    level [SYM] bid|ask P x QTY/COUNT  LevelUpdated (qty 0 means the level is gone)
    accepted [ORDER]                    OrderAccepted (default: the command's own order)
    status [SYM] open|halted continuous|call

State after the command:

    book [SYM] bids LEVELS | asks LEVELS     every level, best first; LEVELS: - or PxQTY/COUNT ...
    bbo [SYM] BID|- / ASK|-
    live ORDER ... | -                       the exact set of live orders, every market
    last [SYM] P|-                           the market's last trade price

Checked after every command without being listed: `state.check_invariants()` is empty; a
PlaceOrder answers OrderAccepted or OrderRejected (alone) first, with the order id = seq; a
rejected command emits nothing else; trade ids run 1, 2, 3 ...; every trade carries the
command's ts, the orders' accounts and symbol, the taker's side as aggressor (none, and the
older order as maker, in an auction); order events carry their order's account and symbol.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, NoReturn

from venue.core import VenueState, apply
from venue.domain.commands import (
    AddInstrument,
    CancelAllOrders,
    CancelOrder,
    Command,
    HaltMarket,
    PlaceOrder,
    ReplaceOrder,
    ResumeMarket,
    SequencedCommand,
    SetMarketMode,
    Tick,
    Uncross,
)
from venue.domain.events import (
    AuctionIndicative,
    AuctionUncrossed,
    CommandRejected,
    Event,
    LevelUpdated,
    MarketStatusChanged,
    OrderAccepted,
    OrderCanceled,
    OrderExpired,
    OrderReduced,
    OrderRejected,
    OrderReplaced,
    StopTriggered,
    TradeExecuted,
)
from venue.domain.instrument import Instrument, InstrumentError
from venue.domain.reject import RejectReason
from venue.domain.values import (
    CancelReason,
    MarketMode,
    MarketStatus,
    OrderType,
    SelfTradePrevention,
    Side,
    TimeInForce,
)

SIGNIFICANT: Final = (
    "trade",
    "reject",
    "canceled",
    "reduced",
    "expired",
    "triggered",
    "replaced",
    "uncrossed",
    "indicative",
)
LISTED_ONLY: Final = ("level", "accepted", "status")
STATE_CHECKS: Final = ("book", "bbo", "live", "last")

TIME_UNITS: Final = {
    "ns": 1,
    "us": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
    "d": 86_400_000_000_000,
}
STP_NAMES: Final = {
    "cancel_newest": SelfTradePrevention.CANCEL_NEWEST,
    "cancel_oldest": SelfTradePrevention.CANCEL_OLDEST,
    "cancel_both": SelfTradePrevention.CANCEL_BOTH,
    "decrement": SelfTradePrevention.DECREMENT_AND_CANCEL,
    "decrement_and_cancel": SelfTradePrevention.DECREMENT_AND_CANCEL,
}
REJECT_NAMES: Final = frozenset(reason.value for reason in RejectReason)
CANCEL_NAMES: Final = frozenset(reason.name.lower() for reason in CancelReason)
NONE: Final = "-"


class ScenarioError(Exception):
    """The scenario file itself is malformed (a bug in the test, not in the engine)."""


class ScenarioMismatchError(AssertionError):
    """The engine did not do what the scenario says."""


# ---------------------------------------------------------------------------------- model


@dataclass(frozen=True)
class Fact:
    """One event, as the scenario language says it: a kind and string fields."""

    kind: str
    fields: dict[str, str]
    line: int = 0

    def matches(self, actual: Fact) -> bool:
        return self.kind == actual.kind and all(
            actual.fields.get(key) == value for key, value in self.fields.items()
        )


@dataclass(frozen=True)
class StateCheck:
    kind: str
    symbol: str
    expected: str
    line: int


@dataclass
class Step:
    line: int
    text: str
    seq: int
    ts: int
    command: Command
    facts: list[Fact] = field(default_factory=list)
    checks: list[StateCheck] = field(default_factory=list)


@dataclass(frozen=True)
class OrderInfo:
    order_id: int
    account_id: int
    symbol: str
    side: Side


@dataclass
class Scenario:
    name: str
    title: str
    xfail: str | None
    default_symbol: str
    steps: list[Step]
    orders: dict[int, OrderInfo]
    names: dict[int, str]  # order id -> label

    def order_name(self, order_id: int) -> str:
        return self.names.get(order_id, f"id:{order_id}")


# ---------------------------------------------------------------------------------- parsing


def read_header(text: str) -> tuple[str, str | None]:
    """The scenario's title (its first comment) and its xfail reason, if any."""
    title = ""
    xfail: str | None = None
    for raw in text.splitlines():
        stripped = raw.strip()
        if not stripped.startswith("#"):
            continue
        body = stripped.lstrip("#").strip()
        if body.lower().startswith("xfail:"):
            xfail = body.split(":", 1)[1].strip()
        elif not title and body:
            title = body
    return title, xfail


def parse_int(text: str, where: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ScenarioError(f"{where}: {text!r} is not an integer") from None


def parse_time(text: str, where: str) -> int:
    """`1500` (ns), `2s`, `500ms`, `1d+16h` ..."""
    total = 0
    for term in text.split("+"):
        match = re.fullmatch(r"(-?\d[\d_]*)([a-z]*)", term)
        if match is None or match.group(2) not in ("", *TIME_UNITS):
            raise ScenarioError(f"{where}: {text!r} is not a time (e.g. 1500, 2s, 1d+16h)")
        total += int(match.group(1)) * TIME_UNITS.get(match.group(2), 1)
    return total


def _strip_comment(raw: str) -> str:
    return raw.split("#", 1)[0].rstrip()


def _normalize(text: str) -> str:
    """Accept `100x5` for `100 x 5` and `@100` for `@ 100`."""
    text = re.sub(r"(?<=[\d-])\s*x\s*(?=[\d-])", " x ", text)
    return re.sub(r"@\s*", "@ ", text)


class _Parser:
    def __init__(self, name: str) -> None:
        self.name = name
        self.seq = 0
        self.ts = 0
        self.accounts: dict[str, int] = {}
        self.labels: dict[str, int] = {}
        self.symbols: list[str] = []
        self.steps: list[Step] = []
        self.orders: dict[int, OrderInfo] = {}
        self.names: dict[int, str] = {}
        self.line = 0
        self.after_at = False

    # -------------------------------------------------------------- helpers

    def where(self, line: int | None = None) -> str:
        return f"{self.name}:{self.line if line is None else line}"

    def fail(self, message: str) -> ScenarioError:
        return ScenarioError(f"{self.where()}: {message}")

    def account(self, name: str) -> int:
        if not re.fullmatch(r"[A-Za-z_]\w*", name):
            raise self.fail(f"{name!r} is not an account name")
        return self.accounts.setdefault(name, len(self.accounts) + 1)

    def order_ref(self, text: str) -> int:
        if text.startswith("id:"):
            return parse_int(text[3:], self.where())
        if text not in self.labels:
            raise self.fail(f"unknown order label {text!r}")
        return self.labels[text]

    def order_text(self, text: str) -> str:
        """An order reference in an expectation, in the form actual events render it."""
        order_id = self.order_ref(text)
        return self.names.get(order_id, f"id:{order_id}")

    def default_symbol(self) -> str:
        if not self.symbols:
            raise self.fail("declare an instrument first")
        return self.symbols[0]

    def options(
        self, tokens: list[str], allowed: set[str], flags: frozenset[str] = frozenset()
    ) -> dict[str, str]:
        out: dict[str, str] = {}
        for token in tokens:
            key, sep, value = token.partition("=")
            if not sep and key in flags:
                out[key] = "yes"
            elif sep and key in allowed:
                if key in out:
                    raise self.fail(f"{key} given twice")
                out[key] = value
            else:
                known = sorted(allowed | flags)
                raise self.fail(f"unexpected {token!r} (options: {', '.join(known)})")
        return out

    def price(self, text: str) -> str:
        if text == NONE:
            return NONE
        return str(parse_int(text, self.where()))

    def symbol_prefix(self, tokens: list[str]) -> tuple[str, list[str]]:
        """An optional leading symbol (one declared by an `instrument` line)."""
        if tokens and tokens[0] in self.symbols:
            return tokens[0], tokens[1:]
        return self.default_symbol(), tokens

    # -------------------------------------------------------------- file

    def parse(self, text: str) -> list[Step]:
        for number, raw in enumerate(text.splitlines(), start=1):
            self.line = number
            line = _strip_comment(raw)
            if not line.strip():
                continue
            if line[0].isspace():
                if not self.steps or self.after_at:
                    raise self.fail("an expectation needs a command right above it")
                self.expectation(self.steps[-1], _normalize(line.strip()))
            else:
                self.command(_normalize(line.strip()))
        if not self.steps:
            raise ScenarioError(f"{self.name}: no commands")
        return self.steps

    def command(self, text: str) -> None:
        label: str | None = None
        match = re.match(r"(\w+):\s+(.*)", text)
        if match is not None:
            label, text = match.group(1), match.group(2)
        tokens = text.split()
        verb, args = tokens[0], tokens[1:]
        if label is not None and verb != "place":
            raise self.fail("only a place command takes a label")
        if verb == "at":
            if len(args) != 1:
                raise self.fail("at TIME")
            ts = parse_time(args[0], self.where())
            if ts < self.ts:
                raise self.fail(f"time goes backwards ({ts} < {self.ts})")
            self.ts = ts
            self.after_at = True
            return
        self.after_at = False
        command = self.build(verb, args, label)
        self.seq += 1
        self.steps.append(
            Step(
                self.line, text if label is None else f"{label}: {text}", self.seq, self.ts, command
            )
        )

    def build(self, verb: str, args: list[str], label: str | None) -> Command:
        if verb == "instrument":
            return self.instrument(args)
        if verb == "place":
            return self.place(args, label)
        if verb == "cancel":
            if len(args) != 2:
                raise self.fail("cancel ACCOUNT ORDER")
            return CancelOrder(self.account(args[0]), self.order_ref(args[1]))
        if verb == "replace":
            if len(args) < 2:
                raise self.fail("replace ACCOUNT ORDER [qty=N] [price=P] [stop=P]")
            opts = self.options(args[2:], {"qty", "price", "stop"})
            return ReplaceOrder(
                self.account(args[0]),
                self.order_ref(args[1]),
                _opt_int(opts, "qty", self.where()),
                _opt_int(opts, "price", self.where()),
                _opt_int(opts, "stop", self.where()),
            )
        if verb == "cancel_all":
            if len(args) not in (1, 2):
                raise self.fail("cancel_all ACCOUNT [SYMBOL]")
            return CancelAllOrders(self.account(args[0]), args[1] if len(args) == 2 else None)
        if verb == "tick":
            if args:
                raise self.fail("tick takes no arguments (set the time with `at`)")
            return Tick()
        if verb in ("halt", "resume", "uncross"):
            if len(args) > 1:
                raise self.fail(f"{verb} [SYMBOL]")
            symbol = args[0] if args else self.default_symbol()
            if verb == "halt":
                return HaltMarket(symbol)
            if verb == "resume":
                return ResumeMarket(symbol)
            return Uncross(symbol)
        if verb == "mode":
            return self.mode(args)
        raise self.fail(f"unknown command {verb!r}")

    def instrument(self, args: list[str]) -> AddInstrument:
        if not args:
            raise self.fail("instrument SYMBOL key=value ...")
        symbol = args[0]
        keys = {
            "tick", "lot", "base", "quote", "base_decimals", "quote_decimals", "min_qty",
            "max_qty", "min_notional", "band_bps", "reference", "mode", "interval",
            "session_close", "max_orders",
        }  # fmt: skip
        opts = self.options(args[1:], keys)
        where = self.where()
        mode = opts.get("mode", "continuous")
        if mode not in ("call", "continuous"):
            raise self.fail(f"mode={mode}: call or continuous")
        try:
            instrument = Instrument.create(
                symbol,
                opts.get("base", symbol),
                opts.get("quote", "USD"),
                opts.get("tick", "1"),
                opts.get("lot", "1"),
                parse_int(opts.get("base_decimals", "0"), where),
                parse_int(opts.get("quote_decimals", "0"), where),
                min_qty_lots=parse_int(opts.get("min_qty", "1"), where),
                max_qty_lots=_opt_int(opts, "max_qty", where),
                min_notional=parse_int(opts.get("min_notional", "0"), where),
                price_band_bps=parse_int(opts.get("band_bps", "0"), where),
                mode=MarketMode.CALL if mode == "call" else MarketMode.CONTINUOUS,
                auction_interval_ns=parse_time(opts.get("interval", "0"), where),
                session_close_offset_ns=(
                    parse_time(opts["session_close"], where) if "session_close" in opts else None
                ),
                reference_price_ticks=_opt_int(opts, "reference", where),
                max_book_orders=parse_int(opts.get("max_orders", "1000000"), where),
            )
        except InstrumentError as exc:
            raise self.fail(f"bad instrument: {exc}") from None
        if symbol not in self.symbols:
            self.symbols.append(symbol)
        return AddInstrument(instrument)

    def place(self, args: list[str], label: str | None) -> PlaceOrder:
        usage = "place ACCOUNT buy|sell TYPE QTY [@ PRICE] [options]"
        if len(args) < 4:
            raise self.fail(usage)
        account = self.account(args[0])
        sides = {"buy": Side.BUY, "sell": Side.SELL}
        if args[1] not in sides:
            raise self.fail(f"side {args[1]!r}: buy or sell")
        side = sides[args[1]]
        types = {t.name.lower(): t for t in OrderType}
        if args[2] not in types:
            raise self.fail(f"order type {args[2]!r}: {', '.join(types)}")
        qty = parse_int(args[3], self.where())
        rest = args[4:]
        price: int | None = None
        if rest and rest[0] == "@":
            if len(rest) < 2:
                raise self.fail("@ needs a price")
            price = parse_int(rest[1], self.where())
            rest = rest[2:]
        opts = self.options(
            rest,
            {"stop", "tif", "expire", "display", "stp", "symbol", "cid"},
            frozenset({"post_only"}),
        )
        tifs = {t.name.lower(): t for t in TimeInForce}
        tif = opts.get("tif", "gtc")
        if tif not in tifs:
            raise self.fail(f"tif={tif}: {', '.join(tifs)}")
        stp = opts.get("stp", "cancel_newest")
        if stp not in STP_NAMES:
            raise self.fail(f"stp={stp}: {', '.join(STP_NAMES)}")
        symbol = opts.get("symbol", self.default_symbol())
        command = PlaceOrder(
            account_id=account,
            symbol=symbol,
            side=side,
            order_type=types[args[2]],
            qty_lots=qty,
            price_ticks=price,
            stop_price_ticks=_opt_int(opts, "stop", self.where()),
            tif=tifs[tif],
            expire_ts_ns=parse_time(opts["expire"], self.where()) if "expire" in opts else None,
            post_only="post_only" in opts,
            display_qty_lots=_opt_int(opts, "display", self.where()),
            stp=STP_NAMES[stp],
            client_order_id=opts.get("cid"),
        )
        order_id = self.seq + 1
        self.orders[order_id] = OrderInfo(order_id, account, symbol, side)
        if label is not None:
            if label in self.labels:
                raise self.fail(f"label {label!r} used twice")
            if label.startswith("id"):
                raise self.fail("labels may not start with 'id'")
            self.labels[label] = order_id
            self.names[order_id] = label
        return command

    def mode(self, args: list[str]) -> SetMarketMode:
        if not args or args[0] not in ("call", "continuous"):
            raise self.fail("mode call|continuous [interval=TIME] [SYMBOL]")
        interval: int | None = None
        symbol = self.default_symbol()
        for token in args[1:]:
            if token.startswith("interval="):
                interval = parse_time(token.split("=", 1)[1], self.where())
            else:
                symbol = token
        mode = MarketMode.CALL if args[0] == "call" else MarketMode.CONTINUOUS
        return SetMarketMode(symbol, mode, interval)

    # -------------------------------------------------------------- expectations

    def expectation(self, step: Step, text: str) -> None:
        tokens = text.split()
        kind, args = tokens[0], tokens[1:]
        if kind in STATE_CHECKS:
            step.checks.append(self.state_check(kind, args))
            return
        parse = getattr(self, f"fact_{kind}", None)
        if parse is None:
            known = ", ".join((*SIGNIFICANT, *LISTED_ONLY, *STATE_CHECKS))
            raise self.fail(f"unknown expectation {kind!r} (known: {known})")
        fields: dict[str, str] = parse(args, step)
        step.facts.append(Fact(kind, fields, self.line))

    def positional(self, args: list[str], pattern: str, usage: str) -> list[str]:
        """Match the positional part `pattern` (`_` = any token, other words literal)."""
        words = pattern.split()
        if len(args) < len(words):
            raise self.fail(f"usage: {usage}")
        out: list[str] = []
        for word, token in zip(words, args, strict=False):
            if word == "_":
                out.append(token)
            elif word != token:
                raise self.fail(f"expected {word!r} where {token!r} is (usage: {usage})")
        return out

    def fact_trade(self, args: list[str], step: Step) -> dict[str, str]:
        usage = "trade P x Q maker=ORDER taker=ORDER [maker_left=N] [taker_left=N]"
        price, qty = self.positional(args, "_ x _", usage)
        opts = self.options(args[3:], {"maker", "taker", "maker_left", "taker_left"})
        if "maker" not in opts or "taker" not in opts:
            raise self.fail(f"usage: {usage}")
        fields = {
            "price": self.price(price),
            "qty": str(parse_int(qty, self.where())),
            "maker": self.order_text(opts["maker"]),
            "taker": self.order_text(opts["taker"]),
        }
        for key in ("maker_left", "taker_left"):
            if key in opts:
                fields[key] = str(parse_int(opts[key], self.where()))
        return fields

    def fact_reject(self, args: list[str], step: Step) -> dict[str, str]:
        if len(args) != 1 or args[0] not in REJECT_NAMES:
            raise self.fail(f"reject REASON, one of: {', '.join(sorted(REJECT_NAMES))}")
        return {"reason": args[0]}

    def fact_canceled(self, args: list[str], step: Step) -> dict[str, str]:
        usage = "canceled ORDER REASON left=N"
        order, reason = self.positional(args, "_ _", usage)
        if reason not in CANCEL_NAMES:
            raise self.fail(f"cancel reason {reason!r}: {', '.join(sorted(CANCEL_NAMES))}")
        opts = self.options(args[2:], {"left"})
        if "left" not in opts:
            raise self.fail(f"usage: {usage}")
        return {
            "order": self.order_text(order),
            "reason": reason,
            "left": str(parse_int(opts["left"], self.where())),
        }

    def fact_reduced(self, args: list[str], step: Step) -> dict[str, str]:
        usage = "reduced ORDER by N left=N"
        order, by = self.positional(args, "_ by _", usage)
        opts = self.options(args[3:], {"left"})
        if "left" not in opts:
            raise self.fail(f"usage: {usage}")
        return {
            "order": self.order_text(order),
            "by": str(parse_int(by, self.where())),
            "left": str(parse_int(opts["left"], self.where())),
        }

    def fact_expired(self, args: list[str], step: Step) -> dict[str, str]:
        usage = "expired ORDER left=N"
        (order,) = self.positional(args, "_", usage)
        opts = self.options(args[1:], {"left"})
        if "left" not in opts:
            raise self.fail(f"usage: {usage}")
        return {"order": self.order_text(order), "left": str(parse_int(opts["left"], self.where()))}

    def fact_triggered(self, args: list[str], step: Step) -> dict[str, str]:
        usage = "triggered ORDER at P"
        order, price = self.positional(args, "_ at _", usage)
        if len(args) != 3:
            raise self.fail(f"usage: {usage}")
        return {"order": self.order_text(order), "price": self.price(price)}

    def fact_replaced(self, args: list[str], step: Step) -> dict[str, str]:
        usage = "replaced ORDER [price=P] [stop=P] qty=N left=N priority=kept|lost"
        (order,) = self.positional(args, "_", usage)
        opts = self.options(args[1:], {"price", "stop", "qty", "left", "priority"})
        if not {"qty", "left", "priority"} <= opts.keys() or opts["priority"] not in (
            "kept",
            "lost",
        ):
            raise self.fail(f"usage: {usage}")
        return {
            "order": self.order_text(order),
            "price": self.price(opts.get("price", NONE)),
            "stop": self.price(opts.get("stop", NONE)),
            "qty": str(parse_int(opts["qty"], self.where())),
            "left": str(parse_int(opts["left"], self.where())),
            "priority": opts["priority"],
        }

    def fact_uncrossed(self, args: list[str], step: Step) -> dict[str, str]:
        usage = "uncrossed [SYM] P|- x VOLUME trades=N"
        symbol, args = self.symbol_prefix(args)
        price, volume = self.positional(args, "_ x _", usage)
        opts = self.options(args[3:], {"trades"})
        if "trades" not in opts:
            raise self.fail(f"usage: {usage}")
        return {
            "symbol": symbol,
            "price": self.price(price),
            "volume": str(parse_int(volume, self.where())),
            "trades": str(parse_int(opts["trades"], self.where())),
        }

    def fact_indicative(self, args: list[str], step: Step) -> dict[str, str]:
        usage = "indicative [SYM] P|- paired=N imbalance=N [buy|sell] bid=P|- ask=P|-"
        symbol, args = self.symbol_prefix(args)
        (price,) = self.positional(args, "_", usage)
        rest = args[1:]
        side = NONE
        for word in ("buy", "sell"):
            if word in rest:
                rest = [token for token in rest if token != word]
                side = word
        opts = self.options(rest, {"paired", "imbalance", "bid", "ask"})
        if set(opts) != {"paired", "imbalance", "bid", "ask"}:
            raise self.fail(f"usage: {usage}")
        return {
            "symbol": symbol,
            "price": self.price(price),
            "paired": str(parse_int(opts["paired"], self.where())),
            "imbalance": str(parse_int(opts["imbalance"], self.where())),
            "side": side,
            "bid": self.price(opts["bid"]),
            "ask": self.price(opts["ask"]),
        }

    def fact_level(self, args: list[str], step: Step) -> dict[str, str]:
        usage = "level [SYM] bid|ask P x QTY/COUNT"
        symbol, args = self.symbol_prefix(args)
        side, price, qty_count = self.positional(args, "_ _ x _", usage)
        match = re.fullmatch(r"(\d+)/(\d+)", qty_count)
        if side not in ("bid", "ask") or match is None or len(args) != 4:
            raise self.fail(f"usage: {usage}")
        return {
            "symbol": symbol,
            "side": side,
            "price": self.price(price),
            "qty": str(int(match.group(1))),
            "count": str(int(match.group(2))),
        }

    def fact_accepted(self, args: list[str], step: Step) -> dict[str, str]:
        if len(args) > 1:
            raise self.fail("accepted [ORDER]")
        if args:
            return {"order": self.order_text(args[0])}
        return {"order": self.names.get(step.seq, f"id:{step.seq}")}

    def fact_status(self, args: list[str], step: Step) -> dict[str, str]:
        usage = "status [SYM] open|halted continuous|call"
        symbol, args = self.symbol_prefix(args)
        if (
            len(args) != 2
            or args[0] not in ("open", "halted")
            or args[1] not in ("continuous", "call")
        ):
            raise self.fail(f"usage: {usage}")
        return {"symbol": symbol, "status": args[0], "mode": args[1]}

    def state_check(self, kind: str, args: list[str]) -> StateCheck:
        symbol = self.default_symbol()
        if kind in ("book", "bbo", "last"):
            symbol, args = self.symbol_prefix(args)
        text = " ".join(args)
        if kind == "book":
            expected = self.book_text(text)
        elif kind == "bbo":
            parts = [part.strip() for part in text.split("/")]
            if len(parts) != 2:
                raise self.fail("bbo BID|- / ASK|-")
            expected = f"{self.price(parts[0])} / {self.price(parts[1])}"
        elif kind == "live":
            if args == [NONE]:
                expected = NONE
            else:
                ids = sorted(self.order_ref(token) for token in args)
                expected = " ".join(self.names.get(i, f"id:{i}") for i in ids) or NONE
        else:
            if len(args) != 1:
                raise self.fail("last [SYM] P|-")
            expected = self.price(args[0])
        return StateCheck(kind, symbol, expected, self.line)

    def book_text(self, text: str) -> str:
        usage = "book [SYM] bids LEVELS | asks LEVELS  (LEVELS: - or PxQTY/COUNT ...)"
        halves = [half.strip() for half in text.split("|")]
        if len(halves) != 2:
            raise self.fail(f"usage: {usage}")
        out: list[str] = []
        for half, name in zip(halves, ("bids", "asks"), strict=True):
            words = half.split(None, 1)
            if not words or words[0] != name:
                raise self.fail(f"usage: {usage}")
            body = words[1].strip() if len(words) > 1 else ""
            if body == NONE:
                out.append(f"{name} {NONE}")
                continue
            compact = re.sub(r"\s*(x|/)\s*", r"\1", body)
            levels = compact.split()
            if not levels or not all(re.fullmatch(r"\d+x\d+/\d+", lvl) for lvl in levels):
                raise self.fail(f"usage: {usage}")
            out.append(f"{name} {' '.join(levels)}")
        return " | ".join(out)


def _opt_int(opts: dict[str, str], key: str, where: str) -> int | None:
    return parse_int(opts[key], where) if key in opts else None


def parse_scenario(text: str, name: str) -> Scenario:
    parser = _Parser(name)
    steps = parser.parse(text)
    title, xfail = read_header(text)
    return Scenario(
        name=name,
        title=title,
        xfail=xfail,
        default_symbol=parser.symbols[0],
        steps=steps,
        orders=parser.orders,
        names=parser.names,
    )


# ---------------------------------------------------------------------------------- events


def _p(price: int | None) -> str:
    return NONE if price is None or price == 0 else str(price)


def to_fact(event: Event, scenario: Scenario) -> Fact | None:
    """The scenario-language form of an event, or None for kinds the language does not speak."""
    name = scenario.order_name
    if isinstance(event, TradeExecuted):
        return Fact(
            "trade",
            {
                "price": str(event.price_ticks),
                "qty": str(event.qty_lots),
                "maker": name(event.maker_order_id),
                "taker": name(event.taker_order_id),
                "maker_left": str(event.maker_remaining_lots),
                "taker_left": str(event.taker_remaining_lots),
            },
        )
    if isinstance(event, OrderRejected | CommandRejected):
        return Fact("reject", {"reason": event.reason.value})
    if isinstance(event, OrderCanceled):
        return Fact(
            "canceled",
            {
                "order": name(event.order_id),
                "reason": event.reason.name.lower(),
                "left": str(event.remaining_lots),
            },
        )
    if isinstance(event, OrderReduced):
        return Fact(
            "reduced",
            {
                "order": name(event.order_id),
                "by": str(event.reduced_lots),
                "left": str(event.remaining_lots),
            },
        )
    if isinstance(event, OrderExpired):
        return Fact("expired", {"order": name(event.order_id), "left": str(event.remaining_lots)})
    if isinstance(event, StopTriggered):
        return Fact(
            "triggered", {"order": name(event.order_id), "price": str(event.last_price_ticks)}
        )
    if isinstance(event, OrderReplaced):
        return Fact(
            "replaced",
            {
                "order": name(event.order_id),
                "price": _p(event.price_ticks),
                "stop": _p(event.stop_price_ticks),
                "qty": str(event.qty_lots),
                "left": str(event.remaining_lots),
                "priority": "kept" if event.priority_kept else "lost",
            },
        )
    if isinstance(event, AuctionUncrossed):
        return Fact(
            "uncrossed",
            {
                "symbol": event.symbol,
                "price": _p(event.price_ticks),
                "volume": str(event.volume_lots),
                "trades": str(event.trade_count),
            },
        )
    if isinstance(event, AuctionIndicative):
        return Fact(
            "indicative",
            {
                "symbol": event.symbol,
                "price": _p(event.price_ticks),
                "paired": str(event.paired_lots),
                "imbalance": str(event.imbalance_lots),
                "side": NONE if event.imbalance_side is None else event.imbalance_side.name.lower(),
                "bid": _p(event.best_bid_ticks),
                "ask": _p(event.best_ask_ticks),
            },
        )
    if isinstance(event, LevelUpdated):
        return Fact(
            "level",
            {
                "symbol": event.symbol,
                "side": "bid" if event.side == Side.BUY else "ask",
                "price": str(event.price_ticks),
                "qty": str(event.qty_lots),
                "count": str(event.order_count),
            },
        )
    if isinstance(event, OrderAccepted):
        return Fact("accepted", {"order": name(event.order_id)})
    if isinstance(event, MarketStatusChanged):
        return Fact(
            "status",
            {
                "symbol": event.symbol,
                "status": "open" if event.status == MarketStatus.OPEN else "halted",
                "mode": "call" if event.mode == MarketMode.CALL else "continuous",
            },
        )
    return None


def render(fact: Fact, default_symbol: str, keys: set[str] | None = None) -> str:
    """A fact as a scenario line; `keys` limits optional fields to those an expectation gave."""
    f = fact.fields
    sym = f"{f['symbol']} " if f.get("symbol", default_symbol) != default_symbol else ""
    kind = fact.kind
    if kind == "trade":
        text = f"trade {f['price']} x {f['qty']} maker={f['maker']} taker={f['taker']}"
        for key in ("maker_left", "taker_left"):
            if key in f and (keys is None or key in keys):
                text += f" {key}={f[key]}"
        return text
    if kind == "reject":
        return f"reject {f['reason']}"
    if kind == "canceled":
        return f"canceled {f['order']} {f['reason']} left={f['left']}"
    if kind == "reduced":
        return f"reduced {f['order']} by {f['by']} left={f['left']}"
    if kind == "expired":
        return f"expired {f['order']} left={f['left']}"
    if kind == "triggered":
        return f"triggered {f['order']} at {f['price']}"
    if kind == "replaced":
        prices = "".join(f" {key}={f[key]}" for key in ("price", "stop") if f[key] != NONE)
        return (
            f"replaced {f['order']}{prices} qty={f['qty']} left={f['left']} "
            f"priority={f['priority']}"
        )
    if kind == "uncrossed":
        return f"uncrossed {sym}{f['price']} x {f['volume']} trades={f['trades']}"
    if kind == "indicative":
        side = "" if f["side"] == NONE else f" {f['side']}"
        return (
            f"indicative {sym}{f['price']} paired={f['paired']} imbalance={f['imbalance']}{side} "
            f"bid={f['bid']} ask={f['ask']}"
        )
    if kind == "level":
        return f"level {sym}{f['side']} {f['price']} x {f['qty']}/{f['count']}"
    if kind == "accepted":
        return f"accepted {f['order']}"
    if kind == "status":
        return f"status {sym}{f['status']} {f['mode']}"
    raise AssertionError(f"no rendering for {kind}")  # pragma: no cover


# ---------------------------------------------------------------------------------- running


def matching_only_state() -> VenueState:
    """A venue without accounts: the bare matching core these rules are about (no balances to
    fund, nothing reserved or settled)."""
    try:
        return VenueState(accounts=False)  # type: ignore[call-arg,unused-ignore]
    except TypeError:  # a core that has no accounts yet
        return VenueState()


class _Run:
    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.state = matching_only_state()
        self.next_trade_id = 1

    def run(self) -> None:
        for step in self.scenario.steps:
            events = apply(self.state, SequencedCommand(step.seq, step.ts, step.command))
            self.check_step(step, events)

    # -------------------------------------------------------------- checking

    def check_step(self, step: Step, events: list[Event]) -> None:
        """Every check of one command; all disagreements are reported together."""
        problems: list[tuple[int, str]] = []
        invariants = self.state.check_invariants()
        if invariants:
            problems.append((step.line, "  invariants broken:\n" + _lines(invariants)))
        problems += [(step.line, f"  {text}") for text in self.envelope_problems(step, events)]
        problems += [(step.line, f"  {text}") for text in self.trade_problems(step, events)]
        problems += self.fact_problems(step, events)
        for check in step.checks:
            actual = self.observe(check)
            if actual != check.expected:
                message = f"  {check.kind}:\n    expected: {check.expected}\n    actual:   {actual}"
                problems.append((check.line, message))
        if problems:
            self.fail(step, problems, events)

    def fail(self, step: Step, problems: list[tuple[int, str]], events: list[Event]) -> NoReturn:
        scenario = self.scenario
        line = min(line for line, _ in problems)
        shown = []
        for event in events:
            fact = to_fact(event, scenario)
            shown.append(
                f"({type(event).__name__})"
                if fact is None
                else render(fact, scenario.default_symbol)
            )
        raise ScenarioMismatchError(
            f"\n{scenario.name}:{line}: after `{step.text}` (seq {step.seq}, ts {step.ts})\n"
            + "".join(f"{message.rstrip()}\n" for _, message in problems)
            + "  every event of the command:\n"
            + _lines(shown, 6)
        )

    def envelope_problems(self, step: Step, events: list[Event]) -> list[str]:
        """Who answers what: accept/reject of a place, nothing more after a rejection."""
        answers = [e for e in events if isinstance(e, OrderAccepted | OrderRejected)]
        command_rejects = [e for e in events if isinstance(e, CommandRejected)]
        if isinstance(step.command, PlaceOrder):
            first = events[0] if events else None
            if (
                len(answers) != 1
                or first is not answers[0]
                or answers[0].order_id != step.seq
                or answers[0].order != step.command
                or command_rejects
            ):
                return [
                    "a PlaceOrder must answer one OrderAccepted/OrderRejected first, "
                    "with order id = seq and the command itself"
                ]
            if isinstance(first, OrderRejected) and len(events) != 1:
                return ["a rejected order must emit nothing else"]
            return []
        if answers:
            return ["only a PlaceOrder answers OrderAccepted/OrderRejected"]
        if command_rejects and (len(events) != 1 or command_rejects[0].command != step.command):
            return ["a rejected command must emit its CommandRejected alone"]
        return []

    def trade_problems(self, step: Step, events: list[Event]) -> list[str]:
        """What every event must say about its orders, and every trade about itself."""
        orders = self.scenario.orders
        found: list[str] = []
        uncrossed_at: dict[str, int] = {}
        for index, event in enumerate(events):
            if isinstance(event, AuctionUncrossed):
                uncrossed_at.setdefault(event.symbol, index)
        for index, event in enumerate(events):
            if isinstance(
                event, OrderCanceled | OrderReduced | OrderExpired | OrderReplaced | StopTriggered
            ):
                info = orders.get(event.order_id)
                if info is None or (info.account_id, info.symbol) != (
                    event.account_id,
                    event.symbol,
                ):
                    found.append(f"wrong order/account/symbol in {event}")
            if not isinstance(event, TradeExecuted):
                continue
            problems: list[str] = []
            if event.trade_id != self.next_trade_id:
                problems.append(f"trade id {event.trade_id}, expected {self.next_trade_id}")
            self.next_trade_id = event.trade_id + 1
            if event.ts_ns != step.ts:
                problems.append(f"ts {event.ts_ns}, expected {step.ts}")
            if (
                event.qty_lots <= 0
                or min(event.maker_remaining_lots, event.taker_remaining_lots) < 0
            ):
                problems.append("non-positive quantity or negative remainder")
            maker = orders.get(event.maker_order_id)
            taker = orders.get(event.taker_order_id)
            if maker is None or taker is None:
                problems.append("unknown maker or taker order")
            else:
                in_auction = index < uncrossed_at.get(event.symbol, -1)
                problems += _trade_parties_problems(event, maker, taker, in_auction)
            if problems:
                found.append(f"trade {event.trade_id} inconsistent: " + "; ".join(problems))
        return found

    def fact_problems(self, step: Step, events: list[Event]) -> list[tuple[int, str]]:
        """Listed events against actual ones: significant kinds always, the others if listed."""
        scenario = self.scenario
        actual = [f for f in (to_fact(e, scenario) for e in events) if f is not None]
        groups: list[tuple[str, tuple[str, ...]]] = [("significant events", SIGNIFICANT)]
        groups += [
            (f"{kind} events", (kind,))
            for kind in LISTED_ONLY
            if any(f.kind == kind for f in step.facts)
        ]
        found: list[tuple[int, str]] = []
        for title, kinds in groups:
            want = [f for f in step.facts if f.kind in kinds]
            got = [f for f in actual if f.kind in kinds]
            same = len(want) == len(got) and all(
                w.matches(g) for w, g in zip(want, got, strict=True)
            )
            if same:
                continue
            first_bad = next(
                (w.line for w, g in zip(want, got, strict=False) if not w.matches(g)),
                want[len(got)].line if len(want) > len(got) else step.line,
            )
            expected_text = [render(w, scenario.default_symbol, set(w.fields)) for w in want]
            actual_text = []
            for index, fact in enumerate(got):
                keys = (
                    set(want[index].fields)
                    if index < len(want) and want[index].kind == fact.kind
                    else None
                )
                actual_text.append(render(fact, scenario.default_symbol, keys))
            found.append(
                (
                    first_bad,
                    f"  {title} ({'/'.join(kinds)}):\n"
                    f"    expected:\n{_lines(expected_text, 6)}"
                    f"    actual:\n{_lines(actual_text, 6)}",
                )
            )
        return found

    def observe(self, check: StateCheck) -> str:
        engine = self.state.engine
        if check.kind == "live":
            ids = sorted(engine.orders)
            return " ".join(self.scenario.order_name(i) for i in ids) or NONE
        market = engine.markets.get(check.symbol)
        if market is None:
            return f"(no market {check.symbol})"
        if check.kind == "book":
            halves = []
            for name, book_side in (("bids", market.bids), ("asks", market.asks)):
                levels = book_side.depth(1_000_000)
                body = " ".join(f"{p}x{q}/{n}" for p, q, n in levels) or NONE
                halves.append(f"{name} {body}")
            return " | ".join(halves)
        if check.kind == "bbo":
            return f"{_p(market.bids.best_price())} / {_p(market.asks.best_price())}"
        return _p(market.last_price)


def _trade_parties_problems(
    event: TradeExecuted, maker: OrderInfo, taker: OrderInfo, in_auction: bool
) -> list[str]:
    problems: list[str] = []
    if (maker.account_id, taker.account_id) != (event.maker_account_id, event.taker_account_id):
        problems.append("accounts do not match the orders")
    if maker.account_id == taker.account_id:
        problems.append("a self-trade printed")
    if {maker.symbol, taker.symbol} != {event.symbol}:
        problems.append("symbol does not match the orders")
    if maker.side == taker.side:
        problems.append("maker and taker on the same side")
    if in_auction:
        if event.aggressor_side is not None:
            problems.append("an auction trade has an aggressor")
        if event.maker_order_id > event.taker_order_id:
            problems.append("in an auction the older order is the maker")
    elif event.aggressor_side != taker.side:
        problems.append(f"aggressor {event.aggressor_side}, taker is {taker.side}")
    return problems


def _lines(items: list[str], indent: int = 4) -> str:
    if not items:
        return " " * indent + "(none)\n"
    return "".join(f"{' ' * indent}{item}\n" for item in items)


def run_scenario_text(text: str, name: str) -> Scenario:
    """Parse and run a scenario; raises ScenarioMismatchError (engine) or ScenarioError (file)."""
    scenario = parse_scenario(text, name)
    _Run(scenario).run()
    return scenario


def run_scenario_file(path: Path) -> Scenario:
    return run_scenario_text(path.read_text(), path.name)
