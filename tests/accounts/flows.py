"""Random order flows over a venue with accounts: one generator serves the Hypothesis property
(driven by Hypothesis' data) and the seeded simulation (driven by random.Random)."""

from __future__ import annotations

from collections.abc import Callable

from venue.domain.commands import (
    CancelAllOrders,
    CancelOrder,
    Command,
    Deposit,
    HaltMarket,
    PlaceOrder,
    ReplaceOrder,
    ResumeMarket,
    SetKillSwitch,
    SetMarketMode,
    SetRiskProfile,
    Tick,
    UpdateAccount,
    Withdraw,
)
from venue.domain.values import MarketMode, OrderType, SelfTradePrevention, Side, TimeInForce

SYMBOLS = ("BTC-USDT", "ETH-USDT")
ASSETS = ("BTC", "ETH", "USDT")
TIERS = ("default", "vip", "market_maker")

Pick = Callable[[int, int], int]  # inclusive integer range -> a value


def next_command(pick: Pick, accounts: list[int], live_orders: list[int], ts: int) -> Command:
    """One plausible command. `pick(lo, hi)` is the only source of choice."""
    account = accounts[pick(0, len(accounts) - 1)]
    roll = pick(0, 99)
    if roll < 55:
        return _order(pick, account, ts)
    if roll < 70 and live_orders:
        order_id = live_orders[pick(0, len(live_orders) - 1)]
        return CancelOrder(account if pick(0, 4) else accounts[0], order_id)
    if roll < 80 and live_orders:
        order_id = live_orders[pick(0, len(live_orders) - 1)]
        return ReplaceOrder(
            account,
            order_id,
            qty_lots=pick(1, 30) if pick(0, 1) else None,
            price_ticks=pick(9_900, 10_100) if pick(0, 1) else None,
        )
    if roll < 84:
        return Deposit(account, ASSETS[pick(0, 2)], pick(1, 10**9))
    if roll < 87:
        return Withdraw(account, ASSETS[pick(0, 2)], pick(1, 10**9))
    if roll < 89:
        return CancelAllOrders(account, SYMBOLS[pick(0, 1)] if pick(0, 1) else None)
    if roll < 92:
        return Tick()
    if roll < 93:
        # Switches go on rarely and off often, so the flow keeps trading between them.
        return SetKillSwitch(account if pick(0, 3) else None, pick(0, 3) == 0)
    if roll < 94:
        return UpdateAccount(account, fee_tier=TIERS[pick(0, 2)])
    if roll < 95:
        symbol = SYMBOLS[pick(0, 1)]
        return HaltMarket(symbol) if pick(0, 3) == 0 else ResumeMarket(symbol)
    if roll < 96:
        mode = MarketMode.CALL if pick(0, 1) else MarketMode.CONTINUOUS
        return SetMarketMode(
            SYMBOLS[pick(0, 1)], mode, 5_000_000 if mode == MarketMode.CALL else None
        )
    if roll < 97:
        return SetRiskProfile(
            "default", max_open_orders=pick(5, 50), daily_loss_limit=pick(10**6, 10**9)
        )
    return _order(pick, account, ts)


def _order(pick: Pick, account: int, ts: int) -> PlaceOrder:
    symbol = SYMBOLS[pick(0, 1)]
    side = Side.BUY if pick(0, 1) else Side.SELL
    kind = pick(0, 9)
    qty = pick(1, 40)
    price = pick(9_950, 10_050)
    stp = SelfTradePrevention(pick(1, 4))
    if kind <= 4:
        tif = (TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK, TimeInForce.GTD, TimeInForce.DAY)[
            pick(0, 4)
        ]
        return PlaceOrder(
            account,
            symbol,
            side,
            OrderType.LIMIT,
            qty,
            price,
            tif=tif,
            expire_ts_ns=ts + pick(1, 20) * 1_000_000 if tif == TimeInForce.GTD else None,
            post_only=tif == TimeInForce.GTC and pick(0, 5) == 0,
            display_qty_lots=pick(1, qty) if tif == TimeInForce.GTC and pick(0, 4) == 0 else None,
            stp=stp,
        )
    if kind <= 6:
        budget = pick(10**6, 10**9) if side == Side.BUY and pick(0, 1) else None
        return PlaceOrder(account, symbol, side, OrderType.MARKET, qty, stp=stp, quote_qty=budget)
    order_type = (
        OrderType.STOP_MARKET,
        OrderType.STOP_LIMIT,
        OrderType.TAKE_PROFIT,
        OrderType.TAKE_PROFIT_LIMIT,
    )[pick(0, 3)]
    limit = price if order_type in (OrderType.STOP_LIMIT, OrderType.TAKE_PROFIT_LIMIT) else None
    return PlaceOrder(
        account, symbol, side, order_type, qty, limit, stop_price_ticks=pick(9_900, 10_100), stp=stp
    )
