"""Commands that manage accounts, money and limits: accounts, deposits, withdrawals, fee tiers,
risk profiles, kill switches and instrument listing (which registers its assets)."""

from __future__ import annotations

from venue.core.trading import Trading
from venue.domain.commands import (
    AddInstrument,
    CreateAccount,
    Deposit,
    SetFeeTier,
    SetKillSwitch,
    SetRiskProfile,
    UpdateAccount,
    Withdraw,
)
from venue.domain.events import (
    AccountCreated,
    AccountUpdated,
    Event,
    FeeTierSet,
    KillSwitchChanged,
    RiskProfileSet,
)
from venue.domain.reject import RejectReason
from venue.domain.values import MAX_AMOUNT, CancelReason
from venue.ledger.accounts import FEE_ACCOUNT_ID, Account
from venue.ledger.fees import FeeTier
from venue.risk.limits import RiskProfile


def add_instrument(
    trading: Trading, cmd: AddInstrument, ts: int, out: list[Event]
) -> RejectReason | None:
    instrument = cmd.instrument
    assets = trading.ledger.assets
    for asset, decimals in (
        (instrument.base_asset, instrument.base_decimals),
        (instrument.quote_asset, instrument.quote_decimals),
    ):
        if assets.get(asset, decimals) != decimals:
            return RejectReason.ASSET_DECIMALS_CONFLICT
    reason = trading.engine.add_instrument(instrument, ts, out)
    if reason is None:
        assets[instrument.base_asset] = instrument.base_decimals
        assets[instrument.quote_asset] = instrument.quote_decimals
        trading.ledger.instruments[instrument.symbol] = instrument
    return reason


def create_account(
    trading: Trading, account_id: int, cmd: CreateAccount, out: list[Event]
) -> RejectReason | None:
    if cmd.fee_tier not in trading.ledger.tiers:
        return RejectReason.UNKNOWN_FEE_TIER
    if cmd.risk_profile not in trading.profiles:
        return RejectReason.UNKNOWN_RISK_PROFILE
    trading.ledger.accounts[account_id] = Account(account_id, cmd.fee_tier, cmd.risk_profile)
    out.append(AccountCreated(account_id, cmd.fee_tier, cmd.risk_profile, cmd.name))
    return None


def update_account(trading: Trading, cmd: UpdateAccount, out: list[Event]) -> RejectReason | None:
    account = _trading_account(trading, cmd.account_id)
    if account is None:
        return RejectReason.UNKNOWN_ACCOUNT
    if cmd.fee_tier is not None and cmd.fee_tier not in trading.ledger.tiers:
        return RejectReason.UNKNOWN_FEE_TIER
    if cmd.risk_profile is not None and cmd.risk_profile not in trading.profiles:
        return RejectReason.UNKNOWN_RISK_PROFILE
    if cmd.fee_tier is None and cmd.risk_profile is None:
        return RejectReason.NOTHING_TO_CHANGE
    account.fee_tier = cmd.fee_tier or account.fee_tier
    account.risk_profile = cmd.risk_profile or account.risk_profile
    out.append(AccountUpdated(account.account_id, account.fee_tier, account.risk_profile))
    return None


def deposit(trading: Trading, cmd: Deposit) -> RejectReason | None:
    account = _trading_account(trading, cmd.account_id)
    if account is None:
        return RejectReason.UNKNOWN_ACCOUNT
    if cmd.asset not in trading.ledger.assets:
        return RejectReason.UNKNOWN_ASSET
    if cmd.amount <= 0 or cmd.amount > MAX_AMOUNT:
        return RejectReason.INVALID_AMOUNT
    ledger = trading.ledger
    if (
        ledger.deposited.get(cmd.asset, 0) - ledger.withdrawn.get(cmd.asset, 0) + cmd.amount
        > MAX_AMOUNT
    ):
        return RejectReason.INVALID_AMOUNT  # every balance and the asset's total stay < 2**62
    ledger.deposit(account, cmd.asset, cmd.amount)
    return None


def withdraw(trading: Trading, cmd: Withdraw) -> RejectReason | None:
    account = _trading_account(trading, cmd.account_id)
    if account is None:
        return RejectReason.UNKNOWN_ACCOUNT
    if cmd.asset not in trading.ledger.assets:
        return RejectReason.UNKNOWN_ASSET
    if cmd.amount <= 0:
        return RejectReason.INVALID_AMOUNT
    if cmd.amount > trading.ledger.available(account, cmd.asset):
        return RejectReason.INSUFFICIENT_BALANCE
    trading.ledger.withdraw(account, cmd.asset, cmd.amount)
    return None


def set_fee_tier(trading: Trading, cmd: SetFeeTier, out: list[Event]) -> RejectReason | None:
    tier = FeeTier(cmd.name, cmd.maker_bps, cmd.taker_bps)
    if not cmd.name or tier.problem() is not None:
        return RejectReason.INVALID_FEE_TIER
    trading.ledger.tiers[cmd.name] = tier
    out.append(FeeTierSet(cmd.name, cmd.maker_bps, cmd.taker_bps))
    return None


def set_risk_profile(
    trading: Trading, cmd: SetRiskProfile, out: list[Event]
) -> RejectReason | None:
    profile = RiskProfile(
        cmd.name,
        cmd.max_open_orders,
        cmd.max_order_notional,
        cmd.max_position_lots,
        cmd.max_orders_per_second,
        cmd.daily_loss_limit,
    )
    if not cmd.name or profile.problem() is not None:
        return RejectReason.INVALID_RISK_PROFILE
    trading.set_profile(profile)
    out.append(
        RiskProfileSet(
            cmd.name,
            cmd.max_open_orders,
            cmd.max_order_notional,
            cmd.max_position_lots,
            cmd.max_orders_per_second,
            cmd.daily_loss_limit,
        )
    )
    return None


def set_kill_switch(
    trading: Trading, cmd: SetKillSwitch, ts: int, out: list[Event]
) -> RejectReason | None:
    """Switching on also cancels the open orders it covers: the account's, or everyone's."""
    if cmd.account_id is None:
        trading.venue_kill_switch = cmd.active
        out.append(KillSwitchChanged(None, cmd.active, "manual"))
        if cmd.active:
            owners = sorted({order.account_id for order in trading.engine.orders.values()})
            for account_id in owners:
                trading.cancel_account(account_id, out, ts, CancelReason.KILL_SWITCH)
        return None
    account = _trading_account(trading, cmd.account_id)
    if account is None:
        return RejectReason.UNKNOWN_ACCOUNT
    account.kill_switch = cmd.active
    out.append(KillSwitchChanged(account.account_id, cmd.active, "manual"))
    if cmd.active:
        trading.cancel_account(account.account_id, out, ts, CancelReason.KILL_SWITCH)
    return None


def _trading_account(trading: Trading, account_id: int) -> Account | None:
    if account_id == FEE_ACCOUNT_ID:
        return None
    return trading.ledger.accounts.get(account_id)
