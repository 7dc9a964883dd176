"""The whole venue state as one canonical, versioned value: the base of `state_hash()` and of the
journal's snapshots (DESIGN.md §8).

Canonical means: equal states encode to equal bytes. Markets are sorted by symbol, live orders
by order id, accounts by id, and so on; everything is ints, strings and msgspec structs,
encoded as msgpack. Lazily deleted heap entries are not state (they never change behaviour)
and are not written; restoring rebuilds the heaps from the orders.
"""

from __future__ import annotations

from heapq import heappush
from typing import TYPE_CHECKING

import msgspec

from venue.domain.commands import PlaceOrder
from venue.domain.instrument import Instrument
from venue.engine.book import BUY, Order
from venue.engine.matching import Market, MatchingEngine, push_stop
from venue.ledger.accounts import Account, Balance, Hold, Position
from venue.ledger.fees import FeeTier
from venue.risk.limits import RiskProfile

if TYPE_CHECKING:
    from venue.core.state import VenueState

SNAPSHOT_VERSION = 2


class OrderImage(msgspec.Struct, frozen=True, array_like=True):
    order_id: int
    command: PlaceOrder
    side: int
    order_type: int
    price: int
    stop_price: int
    qty: int
    remaining: int
    visible: int
    peak: int
    tif: int
    expire_ts: int
    stp: int
    priority: int
    is_market: bool
    resting: bool
    has_budget: bool
    budget: int
    budget_fee_bps: int


class MarketImage(msgspec.Struct, frozen=True, array_like=True):
    instrument: Instrument
    status: int
    mode: int
    last_price: int
    next_priority: int
    auction_interval_ns: int
    next_uncross_ts: int
    orders: list[OrderImage]


class AccountImage(msgspec.Struct, frozen=True, array_like=True):
    account_id: int
    fee_tier: str
    risk_profile: str
    balances: list[tuple[str, int, int]]
    positions: list[tuple[str, int, int, int, int]]
    open_orders: int
    kill_switch: bool
    rate_second: int
    rate_count: int
    pnl_day: int
    day_pnl: int


class HoldImage(msgspec.Struct, frozen=True, array_like=True):
    order_id: int
    account_id: int
    symbol: str
    is_buy: bool
    asset: str
    amount: int
    per_lot: int
    maker_bps: int
    taker_bps: int


class ProfileImage(msgspec.Struct, frozen=True, array_like=True):
    name: str
    max_open_orders: int | None
    max_order_notional: int | None
    max_position_lots: int | None
    max_orders_per_second: int | None
    daily_loss_limit: int | None


class StateImage(msgspec.Struct, frozen=True, array_like=True):
    version: int
    accounts: bool
    last_seq: int
    last_ts_ns: int
    next_trade_id: int
    markets: list[MarketImage]
    account_images: list[AccountImage]
    holds: list[HoldImage]
    fee_tiers: list[tuple[str, int, int]]
    risk_profiles: list[ProfileImage]
    assets: list[tuple[str, int]]
    deposited: list[tuple[str, int]]
    withdrawn: list[tuple[str, int]]
    venue_kill_switch: bool


_ENCODER = msgspec.msgpack.Encoder()
_DECODER = msgspec.msgpack.Decoder(StateImage)


def encode_image(image: StateImage) -> bytes:
    return _ENCODER.encode(image)


def decode_image(data: bytes) -> StateImage:
    image = _DECODER.decode(data)
    if image.version != SNAPSHOT_VERSION:
        raise ValueError(f"snapshot version {image.version} is not {SNAPSHOT_VERSION}")
    return image


# ---------------------------------------------------------------------- state -> image


def image_of(state: VenueState) -> StateImage:
    engine = state.engine
    ledger = state.ledger
    trading = state.trading
    return StateImage(
        SNAPSHOT_VERSION,
        state.accounts,
        state.last_seq,
        state.last_ts_ns,
        engine.next_trade_id,
        _market_images(engine),
        [_account_image(ledger.accounts[account_id]) for account_id in sorted(ledger.accounts)],
        [_hold_image(ledger.holds[order_id]) for order_id in sorted(ledger.holds)],
        [(tier.name, tier.maker_bps, tier.taker_bps) for _, tier in sorted(ledger.tiers.items())],
        [_profile_image(profile) for _, profile in sorted(trading.profiles.items())],
        sorted(ledger.assets.items()),
        sorted(ledger.deposited.items()),
        sorted(ledger.withdrawn.items()),
        trading.venue_kill_switch,
    )


def _market_images(engine: MatchingEngine) -> list[MarketImage]:
    by_symbol: dict[str, list[OrderImage]] = {symbol: [] for symbol in engine.markets}
    for order_id in sorted(engine.orders):
        order = engine.orders[order_id]
        by_symbol[order.symbol].append(_order_image(order))
    return [
        MarketImage(
            market.instrument,
            market.status,
            market.mode,
            market.last_price,
            market.next_priority,
            market.auction_interval_ns,
            market.next_uncross_ts,
            by_symbol[symbol],
        )
        for symbol, market in sorted(engine.markets.items())
    ]


def _order_image(order: Order) -> OrderImage:
    return OrderImage(
        order.order_id,
        order.command,
        order.side,
        order.order_type,
        order.price,
        order.stop_price,
        order.qty,
        order.remaining,
        order.visible,
        order.peak,
        order.tif,
        order.expire_ts,
        order.stp,
        order.priority,
        order.is_market,
        order.level is not None,
        order.has_budget,
        order.budget,
        order.budget_fee_bps,
    )


def _account_image(account: Account) -> AccountImage:
    return AccountImage(
        account.account_id,
        account.fee_tier,
        account.risk_profile,
        [(asset, b.available, b.held) for asset, b in sorted(account.balances.items())],
        [
            (symbol, p.net_lots, p.cost_basis, p.realized_pnl, p.fees_paid)
            for symbol, p in sorted(account.positions.items())
        ],
        account.open_orders,
        account.kill_switch,
        account.rate_second,
        account.rate_count,
        account.pnl_day,
        account.day_pnl,
    )


def _hold_image(hold: Hold) -> HoldImage:
    return HoldImage(
        hold.order_id,
        hold.account.account_id,
        hold.symbol,
        hold.is_buy,
        hold.asset,
        hold.amount,
        hold.per_lot,
        hold.maker_bps,
        hold.taker_bps,
    )


def _profile_image(profile: RiskProfile) -> ProfileImage:
    return ProfileImage(
        profile.name,
        profile.max_open_orders,
        profile.max_order_notional,
        profile.max_position_lots,
        profile.max_orders_per_second,
        profile.daily_loss_limit,
    )


# ---------------------------------------------------------------------- image -> state


def restore_into(state: VenueState, image: StateImage) -> None:
    """Fill a fresh state from an image: levels in FIFO (priority) order, queues, stops,
    expiries, accounts, holds, tiers and profiles exactly as they were."""
    state.last_seq = image.last_seq
    state.last_ts_ns = image.last_ts_ns
    engine = state.engine
    engine.next_trade_id = image.next_trade_id
    for market_image in image.markets:
        market = Market(market_image.instrument)
        market.status = market_image.status
        market.mode = market_image.mode
        market.last_price = market_image.last_price
        market.next_priority = market_image.next_priority
        market.auction_interval_ns = market_image.auction_interval_ns
        market.next_uncross_ts = market_image.next_uncross_ts
        engine.markets[market.symbol] = market
        state.ledger.instruments[market.symbol] = market_image.instrument
        for order_image in sorted(market_image.orders, key=_priority_of):
            _restore_order(engine, market, order_image)
    ledger = state.ledger
    ledger.set_accounts({a.account_id: _restore_account(a) for a in image.account_images})
    for h in image.holds:
        account = ledger.accounts[h.account_id]
        instrument = ledger.instruments[h.symbol]
        ledger.holds[h.order_id] = Hold(
            h.order_id,
            account,
            instrument,
            h.is_buy,
            h.amount,
            h.per_lot,
            h.maker_bps,
            h.taker_bps,
        )
    ledger.tiers = {name: FeeTier(name, maker, taker) for name, maker, taker in image.fee_tiers}
    ledger.assets = dict(image.assets)
    ledger.deposited = dict(image.deposited)
    ledger.withdrawn = dict(image.withdrawn)
    state.trading.profiles = {}
    for p in image.risk_profiles:
        state.trading.set_profile(
            RiskProfile(
                p.name,
                p.max_open_orders,
                p.max_order_notional,
                p.max_position_lots,
                p.max_orders_per_second,
                p.daily_loss_limit,
            )
        )
    state.trading.venue_kill_switch = image.venue_kill_switch


def _restore_account(image: AccountImage) -> Account:
    account = Account(image.account_id, image.fee_tier, image.risk_profile)
    for asset, available, held in image.balances:
        account.balances[asset] = Balance(account.account_id, asset, available, held)
    for symbol, net, cost, realized, fees in image.positions:
        position = Position(account.account_id, symbol)
        position.net_lots = net
        position.cost_basis = cost
        position.realized_pnl = realized
        position.fees_paid = fees
        account.positions[symbol] = position
    account.open_orders = image.open_orders
    account.kill_switch = image.kill_switch
    account.rate_second = image.rate_second
    account.rate_count = image.rate_count
    account.pnl_day = image.pnl_day
    account.day_pnl = image.day_pnl
    return account


def _restore_order(engine: MatchingEngine, market: Market, image: OrderImage) -> None:
    order = Order(
        image.order_id,
        image.command,
        image.command.account_id,
        image.command.symbol,
        image.command.post_only,
        image.side,
        image.order_type,
        image.price,
        image.stop_price,
        image.qty,
        image.peak,
        image.tif,
        image.expire_ts,
        image.stp,
    )
    order.remaining = image.remaining
    order.visible = image.visible
    order.priority = image.priority
    order.is_market = image.is_market
    order.has_budget = image.has_budget
    order.budget = image.budget
    order.budget_fee_bps = image.budget_fee_bps
    if image.resting:
        book_side = market.bids if order.side == BUY else market.asks
        book_side.level_for(order.price).append(order)
    elif image.is_market:
        (market.market_buys if order.side == BUY else market.market_sells).append(order)
    else:
        push_stop(market, order)
    engine.orders[order.order_id] = order
    market.order_count += 1
    if order.expire_ts:
        heappush(market.expiries, (order.expire_ts, order.order_id))


def _priority_of(image: OrderImage) -> int:
    return image.priority
