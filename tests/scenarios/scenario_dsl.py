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

Accounts. A line `accounts on` above the first command runs the scenario on
`VenueState(accounts=True)`: money behind every order (reservations, settlement, fees, risk).
Accounts then exist only once created, and a name is the id of the command that created it
(`id:N` names any account id, e.g. one that does not exist; `venue`, `fees` and `outside` are
reserved). Amounts are integers in the asset's minor units (`1_000` reads as 1000).

    account NAME [tier=TIER] [profile=PROFILE]        CreateAccount
    deposit NAME ASSET AMOUNT | withdraw NAME ASSET AMOUNT
    fee_tier TIER maker=BPS taker=BPS                 SetFeeTier (maker < 0 is a rebate)
    risk_profile PROFILE [max_open_orders=N] [max_order_notional=N] [max_position_lots=N]
                 [max_orders_per_second=N] [daily_loss_limit=N]
    assign NAME [tier=TIER] [profile=PROFILE]         UpdateAccount
    kill NAME|venue on|off                            SetKillSwitch
    place ... [quote_qty=N]                           a market buy's quote budget

Expectations of accounts:

    kill_switch NAME|venue on|off [reason=manual|daily_loss_limit]   significant (as above)
    posting REASON AMOUNT ASSET FROM -> TO [trade=N]    checked only when listed, then every
        posting of the command, in order. FROM/TO: NAME (available), NAME.held, fees (the fee
        account 0), outside (deposits, withdrawals). REASON: deposit withdrawal reserve release
        trade fee rebate
    balance NAME|fees ASSET [available=N] [held=N]      state after the command
    position NAME [SYM] [net=N] [cost=N] [realized=N] [fees=N]   (SYM: the first market)
    fees ASSET N                                        the fee account's available balance

And checked after every command in accounts mode, without being listed: the ledger's own
invariants (inside `check_invariants()`: conservation, nothing negative, holds = held); the
command's postings, replayed on the balances before it, give exactly the balances after it;
one BalanceChanged per balance the postings touched, with its balance after the command; one
PositionChanged per account and market that traded, with its position after the command.
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
    Tick,
    Uncross,
    UpdateAccount,
    Withdraw,
)
from venue.domain.events import (
    AuctionIndicative,
    AuctionUncrossed,
    BalanceChanged,
    CommandRejected,
    Event,
    KillSwitchChanged,
    LedgerPosted,
    LevelUpdated,
    MarketStatusChanged,
    OrderAccepted,
    OrderCanceled,
    OrderExpired,
    OrderReduced,
    OrderRejected,
    OrderReplaced,
    PositionChanged,
    Posting,
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
    "kill_switch",
)
LISTED_ONLY: Final = ("level", "accepted", "status", "posting")
STATE_CHECKS: Final = ("book", "bbo", "live", "last", "balance", "position", "fees")

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
ACCOUNT_VERBS: Final = frozenset(
    {"account", "deposit", "withdraw", "fee_tier", "risk_profile", "assign", "kill"}
)
REJECT_NAMES: Final = frozenset(reason.value for reason in RejectReason)
CANCEL_NAMES: Final = frozenset(reason.name.lower() for reason in CancelReason)
NONE: Final = "-"
FEE_ACCOUNT: Final = 0
OUTSIDE: Final = -1
AVAILABLE_BUCKET: Final = 1
HELD_BUCKET: Final = 2
RESERVED_NAMES: Final = frozenset({"venue", "fees", "outside"})
POSTING_REASONS: Final = frozenset(
    {"deposit", "withdrawal", "reserve", "release", "trade", "fee", "rebate"}
)
RISK_KEYS: Final = (
    "max_open_orders",
    "max_order_notional",
    "max_position_lots",
    "max_orders_per_second",
    "daily_loss_limit",
)
BALANCE_KEYS: Final = ("available", "held")
POSITION_KEYS: Final = ("net", "cost", "realized", "fees")


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
    """One state expectation. `title` names it in a failure (default: the kind); balance and
    position checks name their account and asset, and compare only the `keys` given."""

    kind: str
    symbol: str
    expected: str
    line: int
    title: str = ""
    account_id: int = 0
    asset: str = ""
    keys: tuple[str, ...] = ()


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
    accounts: bool = False  # `accounts on`: a venue with money
    account_names: dict[int, str] = field(default_factory=dict)  # account id -> name

    def order_name(self, order_id: int) -> str:
        return self.names.get(order_id, f"id:{order_id}")

    def account_name(self, account_id: int | None) -> str:
        if account_id is None:
            return "venue"
        if account_id == FEE_ACCOUNT:
            return "fees"
        if account_id == OUTSIDE:
            return "outside"
        return self.account_names.get(account_id, f"id:{account_id}")


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
        self.accounts_on = False

    # -------------------------------------------------------------- helpers

    def where(self, line: int | None = None) -> str:
        return f"{self.name}:{self.line if line is None else line}"

    def fail(self, message: str) -> ScenarioError:
        return ScenarioError(f"{self.where()}: {message}")

    def account(self, name: str) -> int:
        """The id of an account name: numbered by first use, or with `accounts on` the one its
        `account` command created (`id:N` is any id)."""
        if self.accounts_on and name.startswith("id:"):
            return parse_int(name[3:], self.where())
        if not re.fullmatch(r"[A-Za-z_]\w*", name):
            raise self.fail(f"{name!r} is not an account name")
        if not self.accounts_on:
            return self.accounts.setdefault(name, len(self.accounts) + 1)
        if name not in self.accounts:
            raise self.fail(f"no account {name!r}: create it first (`account {name}`)")
        return self.accounts[name]

    def account_text(self, name: str) -> str:
        """An account reference in an expectation, in the form actual events render it."""
        if name in ("fees", "outside"):
            return name
        account_id = self.account(name)
        if account_id == FEE_ACCOUNT:
            return "fees"
        names = {number: known for known, number in self.accounts.items()}
        return names.get(account_id, f"id:{account_id}")

    def holder(self, name: str) -> int:
        """The account whose balance or position an expectation reads (`fees` included)."""
        return FEE_ACCOUNT if name == "fees" else self.account(name)

    def needs_accounts(self, verb: str) -> None:
        if not self.accounts_on:
            raise self.fail(f"{verb} needs `accounts on` above the first command")

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
        if verb == "accounts":
            if args != ["on"]:
                raise self.fail("accounts on")
            if self.steps:
                raise self.fail("`accounts on` must come before the first command")
            self.accounts_on = True
            self.after_at = True
            return
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
        if verb in ACCOUNT_VERBS:
            self.needs_accounts(verb)
            return self.account_command(verb, args)
        raise self.fail(f"unknown command {verb!r}")

    def account_command(self, verb: str, args: list[str]) -> Command:
        if verb == "account":
            if not args:
                raise self.fail("account NAME [tier=TIER] [profile=PROFILE]")
            name = args[0]
            if not re.fullmatch(r"[A-Za-z_]\w*", name) or name in RESERVED_NAMES:
                raise self.fail(f"{name!r} is not an account name (reserved: venue fees outside)")
            if name in self.accounts:
                raise self.fail(f"account {name!r} created twice")
            opts = self.options(args[1:], {"tier", "profile"})
            self.accounts[name] = self.seq + 1  # the account id is the seq of its creation
            return CreateAccount(opts.get("tier", "default"), opts.get("profile", "default"))
        if verb in ("deposit", "withdraw"):
            if len(args) != 3:
                raise self.fail(f"{verb} NAME ASSET AMOUNT")
            # a negative amount is the engine's to refuse (invalid_amount)
            amount = parse_int(args[2], self.where())
            kind = Deposit if verb == "deposit" else Withdraw
            return kind(self.account(args[0]), args[1], amount)
        if verb == "fee_tier":
            opts = self.options(args[1:], {"maker", "taker"})
            if not args or set(opts) != {"maker", "taker"}:
                raise self.fail("fee_tier TIER maker=BPS taker=BPS")
            where = self.where()
            return SetFeeTier(
                args[0], parse_int(opts["maker"], where), parse_int(opts["taker"], where)
            )
        if verb == "risk_profile":
            if not args:
                raise self.fail(f"risk_profile PROFILE [{'=N] ['.join(RISK_KEYS)}=N]")
            opts = self.options(args[1:], set(RISK_KEYS))
            limits = [_opt_int(opts, key, self.where()) for key in RISK_KEYS]
            return SetRiskProfile(args[0], *limits)
        if verb == "assign":
            if not args:
                raise self.fail("assign NAME [tier=TIER] [profile=PROFILE]")
            opts = self.options(args[1:], {"tier", "profile"})
            return UpdateAccount(self.account(args[0]), opts.get("tier"), opts.get("profile"))
        # kill
        if len(args) != 2 or args[1] not in ("on", "off"):
            raise self.fail("kill NAME|venue on|off")
        target = None if args[0] == "venue" else self.account(args[0])
        return SetKillSwitch(target, args[1] == "on")

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
            {"stop", "tif", "expire", "display", "stp", "symbol", "cid", "quote_qty"},
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
            quote_qty=_opt_int(opts, "quote_qty", self.where()),
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

    def fact_kill_switch(self, args: list[str], step: Step) -> dict[str, str]:
        usage = "kill_switch NAME|venue on|off [reason=manual|daily_loss_limit]"
        self.needs_accounts("kill_switch")
        who, state = self.positional(args, "_ _", usage)
        if state not in ("on", "off"):
            raise self.fail(f"usage: {usage}")
        opts = self.options(args[2:], {"reason"})
        fields = {"account": "venue" if who == "venue" else self.account_text(who), "state": state}
        if "reason" in opts:
            fields["reason"] = opts["reason"]
        return fields

    def fact_posting(self, args: list[str], step: Step) -> dict[str, str]:
        usage = "posting REASON AMOUNT ASSET FROM -> TO [trade=N]"
        self.needs_accounts("posting")
        reason, amount, asset, debit, credit = self.positional(args, "_ _ _ _ -> _", usage)
        if reason not in POSTING_REASONS:
            raise self.fail(f"posting reason {reason!r}: {', '.join(sorted(POSTING_REASONS))}")
        opts = self.options(args[6:], {"trade"})
        fields = {
            "reason": reason,
            "amount": str(parse_int(amount, self.where())),
            "asset": asset,
            "from": self.ledger_account(debit),
            "to": self.ledger_account(credit),
        }
        if "trade" in opts:
            fields["trade"] = str(parse_int(opts["trade"], self.where()))
        return fields

    def ledger_account(self, text: str) -> str:
        """`NAME`, `NAME.held`, `fees`, `outside`: rendered as actual postings are."""
        name, _, bucket = text.partition(".")
        if bucket not in ("", "available", "held") or (name == "outside" and bucket == "held"):
            raise self.fail(f"{text!r}: NAME, NAME.held, fees or outside")
        return self.account_text(name) + (".held" if bucket == "held" else "")

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
        if kind in ("balance", "position", "fees"):
            self.needs_accounts(kind)
            return self.money_check(kind, args)
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

    def money_check(self, kind: str, args: list[str]) -> StateCheck:
        if kind == "fees":
            if len(args) != 2:
                raise self.fail("fees ASSET N")
            asset = args[0]
            expected = str(parse_int(args[1], self.where()))
            return StateCheck(kind, "", expected, self.line, f"fees {asset}", FEE_ACCOUNT, asset)
        if kind == "balance":
            usage = "balance NAME ASSET [available=N] [held=N]"
            name, asset = self.positional(args, "_ _", usage)
            rest, symbol = args[2:], ""
            allowed: tuple[str, ...] = BALANCE_KEYS
            title = f"balance {self.account_text(name)} {asset}"
        else:
            usage = "position NAME [SYM] [net=N] [cost=N] [realized=N] [fees=N]"
            (name,) = self.positional(args, "_", usage)
            symbol, rest = self.symbol_prefix(args[1:])
            allowed, asset = POSITION_KEYS, ""
            title = f"position {self.account_text(name)} {symbol}"
        opts = self.options(rest, set(allowed))
        if not opts:
            raise self.fail(f"usage: {usage} (at least one figure)")
        keys = tuple(key for key in allowed if key in opts)
        expected = " ".join(f"{key}={parse_int(opts[key], self.where())}" for key in keys)
        return StateCheck(kind, symbol, expected, self.line, title, self.holder(name), asset, keys)

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
        accounts=parser.accounts_on,
        account_names={number: known for known, number in parser.accounts.items()},
    )


# ---------------------------------------------------------------------------------- events


def _p(price: int | None) -> str:
    return NONE if price is None or price == 0 else str(price)


def to_facts(event: Event, scenario: Scenario) -> list[Fact]:
    """The scenario-language form of an event: one fact, one per posting of a LedgerPosted, or
    none for kinds the language does not speak."""
    if isinstance(event, LedgerPosted):
        return [posting_fact(posting, scenario) for posting in event.postings]
    fact = to_fact(event, scenario)
    return [] if fact is None else [fact]


def posting_fact(posting: Posting, scenario: Scenario) -> Fact:
    def side(account_id: int, bucket: int) -> str:
        held = ".held" if bucket == HELD_BUCKET else ""
        odd = "" if bucket in (AVAILABLE_BUCKET, HELD_BUCKET) else f".bucket{bucket}"
        return scenario.account_name(account_id) + held + odd

    return Fact(
        "posting",
        {
            "reason": posting.reason,
            "amount": str(posting.amount),
            "asset": posting.asset,
            "from": side(posting.debit_account, posting.debit_bucket),
            "to": side(posting.credit_account, posting.credit_bucket),
            "trade": str(posting.trade_id),
        },
    )


def to_fact(event: Event, scenario: Scenario) -> Fact | None:
    """The scenario-language form of an event, or None for kinds the language does not speak."""
    name = scenario.order_name
    if isinstance(event, KillSwitchChanged):
        return Fact(
            "kill_switch",
            {
                "account": scenario.account_name(event.account_id),
                "state": "on" if event.active else "off",
                "reason": event.reason,
            },
        )
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


def describe(event: Event, scenario: Scenario) -> list[str]:
    """An event as lines of a failure report: facts as scenario lines, the rest in brackets."""
    facts = to_facts(event, scenario)
    if facts:
        return [render(fact, scenario.default_symbol) for fact in facts]
    if isinstance(event, BalanceChanged):
        who = scenario.account_name(event.account_id)
        return [f"(balance {who} {event.asset} available={event.available} held={event.held})"]
    if isinstance(event, PositionChanged):
        who = scenario.account_name(event.account_id)
        return [
            f"(position {who} {event.symbol} net={event.net_lots} cost={event.cost_basis} "
            f"realized={event.realized_pnl} fees={event.fees_paid})"
        ]
    return [f"({type(event).__name__})"]


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
    if kind == "kill_switch":
        shown = "reason" in f and (keys is None or "reason" in keys)
        reason = f" reason={f['reason']}" if shown else ""
        return f"kill_switch {f['account']} {f['state']}{reason}"
    if kind == "posting":
        shown = f.get("trade", "0") != "0" if keys is None else "trade" in keys
        trade = f" trade={f['trade']}" if shown and "trade" in f else ""
        return f"posting {f['reason']} {f['amount']} {f['asset']} {f['from']} -> {f['to']}{trade}"
    raise AssertionError(f"no rendering for {kind}")  # pragma: no cover


# ---------------------------------------------------------------------------------- running


def matching_only_state() -> VenueState:
    """A venue without accounts: the bare matching core these rules are about (no balances to
    fund, nothing reserved or settled)."""
    try:
        return VenueState(accounts=False)  # type: ignore[call-arg,unused-ignore]
    except TypeError:  # a core that has no accounts yet
        return VenueState()


Balances = dict[tuple[int, str], tuple[int, int]]  # (account, asset) -> (available, held)


class _Run:
    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.state = VenueState(accounts=True) if scenario.accounts else matching_only_state()
        self.next_trade_id = 1

    def run(self) -> None:
        for step in self.scenario.steps:
            before = self.balances() if self.scenario.accounts else {}
            events = apply(self.state, SequencedCommand(step.seq, step.ts, step.command))
            self.check_step(step, events, before)

    def balances(self) -> Balances:
        return {
            (account.account_id, asset): (balance.available, balance.held)
            for account in self.state.ledger.accounts.values()
            for asset, balance in account.balances.items()
        }

    # -------------------------------------------------------------- checking

    def check_step(self, step: Step, events: list[Event], before: Balances) -> None:
        """Every check of one command; all disagreements are reported together."""
        problems: list[tuple[int, str]] = []
        invariants = self.state.check_invariants()
        if invariants:
            problems.append((step.line, "  invariants broken:\n" + _lines(invariants)))
        problems += [(step.line, f"  {text}") for text in self.envelope_problems(step, events)]
        problems += [(step.line, f"  {text}") for text in self.trade_problems(step, events)]
        if self.scenario.accounts:
            ledger = self.ledger_problems(events, before)
            if ledger:
                problems.append((step.line, "  ledger events inconsistent:\n" + _lines(ledger)))
        problems += self.fact_problems(step, events)
        for check in step.checks:
            actual = self.observe(check)
            if actual != check.expected:
                message = (
                    f"  {check.title or check.kind}:\n"
                    f"    expected: {check.expected}\n    actual:   {actual}"
                )
                problems.append((check.line, message))
        if problems:
            self.fail(step, problems, events)

    def fail(self, step: Step, problems: list[tuple[int, str]], events: list[Event]) -> NoReturn:
        scenario = self.scenario
        line = min(line for line, _ in problems)
        shown = [text for event in events for text in describe(event, scenario)]
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

    def ledger_problems(self, events: list[Event], before: Balances) -> list[str]:
        """The money events against the state: postings explain every balance change, and
        BalanceChanged / PositionChanged report each changed balance and position as it is."""
        found: list[str] = []
        replayed = dict(before)
        touched: set[tuple[int, str]] = set()
        for event in events:
            if isinstance(event, LedgerPosted):
                for posting in event.postings:
                    if posting.amount <= 0:
                        found.append(f"non-positive posting {posting}")
                    _replay(posting, replayed, touched)
        after = self.balances()
        name = self.scenario.account_name
        for key in sorted(set(replayed) | set(after)):
            if replayed.get(key, (0, 0)) != after.get(key, (0, 0)):
                found.append(
                    f"balance {name(key[0])} {key[1]} is (available, held) = "
                    f"{after.get(key, (0, 0))}, the postings make it {replayed.get(key, (0, 0))}"
                )
        return found + self.report_problems(events, touched, after)

    def report_problems(
        self, events: list[Event], touched: set[tuple[int, str]], after: Balances
    ) -> list[str]:
        """One BalanceChanged per balance the postings moved and one PositionChanged per account
        and market that traded, each saying what the state now says."""
        name = self.scenario.account_name
        found: list[str] = []
        reported: dict[tuple[int, str], tuple[int, int]] = {}
        positions: dict[tuple[int, str], tuple[int, int, int, int]] = {}
        traded: set[tuple[int, str]] = set()
        for event in events:
            if isinstance(event, BalanceChanged):
                key = (event.account_id, event.asset)
                if key in reported:
                    found.append(f"two BalanceChanged for {name(key[0])} {key[1]}")
                reported[key] = (event.available, event.held)
            elif isinstance(event, PositionChanged):
                key = (event.account_id, event.symbol)
                if key in positions:
                    found.append(f"two PositionChanged for {name(key[0])} {key[1]}")
                figures = (event.net_lots, event.cost_basis, event.realized_pnl, event.fees_paid)
                positions[key] = figures
            elif isinstance(event, TradeExecuted):
                traded.add((event.maker_account_id, event.symbol))
                traded.add((event.taker_account_id, event.symbol))
        for key in sorted(touched - set(reported)):
            found.append(f"no BalanceChanged for {name(key[0])} {key[1]}, which postings moved")
        for key in sorted(set(reported) - touched):
            found.append(f"BalanceChanged for {name(key[0])} {key[1]}, which no posting moved")
        for key, pair in sorted(reported.items()):
            if after.get(key, (0, 0)) != pair:
                found.append(
                    f"BalanceChanged {name(key[0])} {key[1]} says {pair}, "
                    f"the balance is {after.get(key, (0, 0))}"
                )
        for account_id, symbol in sorted(traded - set(positions)):
            found.append(f"no PositionChanged for {name(account_id)} {symbol}, which traded")
        for account_id, symbol in sorted(set(positions) - traded):
            found.append(f"PositionChanged for {name(account_id)} {symbol}, which did not trade")
        for (account_id, symbol), figures in sorted(positions.items()):
            actual = self.position_figures(account_id, symbol)
            if actual != figures:
                found.append(
                    f"PositionChanged {name(account_id)} {symbol} says (net, cost, realized, "
                    f"fees) = {figures}, the position is {actual}"
                )
        return found

    def position_figures(self, account_id: int, symbol: str) -> tuple[int, int, int, int]:
        account = self.state.ledger.accounts.get(account_id)
        position = None if account is None else account.positions.get(symbol)
        if position is None:
            return (0, 0, 0, 0)
        return (
            position.net_lots,
            position.cost_basis,
            position.realized_pnl,
            position.fees_paid,
        )

    def fact_problems(self, step: Step, events: list[Event]) -> list[tuple[int, str]]:
        """Listed events against actual ones: significant kinds always, the others if listed."""
        scenario = self.scenario
        actual = [fact for event in events for fact in to_facts(event, scenario)]
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
        if check.kind in ("balance", "fees", "position"):
            return self.observe_money(check)
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

    def observe_money(self, check: StateCheck) -> str:
        account = self.state.ledger.accounts.get(check.account_id)
        if account is None:
            return f"(no account {self.scenario.account_name(check.account_id)})"
        if check.kind == "position":
            figures = dict(
                zip(
                    POSITION_KEYS,
                    self.position_figures(check.account_id, check.symbol),
                    strict=True,
                )
            )
            return " ".join(f"{key}={figures[key]}" for key in check.keys)
        balance = account.balances.get(check.asset)
        available, held = (0, 0) if balance is None else (balance.available, balance.held)
        if check.kind == "fees":
            return str(available) if held == 0 else f"{available} (and held={held})"
        figures = {"available": available, "held": held}
        return " ".join(f"{key}={figures[key]}" for key in check.keys)


def _replay(posting: Posting, balances: Balances, touched: set[tuple[int, str]]) -> None:
    """Apply one posting to `balances` (the outside world has no balance)."""
    for account_id, bucket, sign in (
        (posting.debit_account, posting.debit_bucket, -1),
        (posting.credit_account, posting.credit_bucket, 1),
    ):
        if account_id == OUTSIDE:
            continue
        key = (account_id, posting.asset)
        available, held = balances.get(key, (0, 0))
        if bucket == HELD_BUCKET:
            held += sign * posting.amount
        else:
            available += sign * posting.amount
        balances[key] = (available, held)
        touched.add(key)


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
