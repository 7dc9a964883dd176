"""`VenueState.set_reporting(False)` (what recovery uses when nobody observes the replay) must
reach exactly the states the live venue reaches, and leave out only the events that report.

The flows are the seeded many-account flows of the conservation tests: orders of every type,
cancels, replaces, deposits, withdrawals, kill switches, halts, call auctions, and a daily
loss limit that trips kill switches, so every settlement path runs with reporting off."""

from __future__ import annotations

import random

from tests.accounts.driver import BTC_USDT, ETH_USDT, Driver
from tests.accounts.flows import next_command

from venue.core import VenueState, apply
from venue.domain.commands import Deposit, SetRiskProfile
from venue.domain.events import (
    BalanceChanged,
    Event,
    KillSwitchChanged,
    LedgerPosted,
    LevelUpdated,
    OrderAccepted,
    PositionChanged,
    TradeExecuted,
)

REPORT_ONLY = (LedgerPosted, BalanceChanged, PositionChanged, OrderAccepted, LevelUpdated)
NEVER_WHEN_OFF = (LedgerPosted, BalanceChanged, PositionChanged, OrderAccepted)


def _essential(events: list[Event]) -> list[Event]:
    return [event for event in events if not isinstance(event, REPORT_ONLY)]


def test_reporting_off_reaches_the_same_state_with_only_the_reports_left_out() -> None:
    for seed in (11, 12, 13):
        rng = random.Random(seed)
        driver = Driver(BTC_USDT, ETH_USDT)
        driver.run(SetRiskProfile("tight", daily_loss_limit=50_000))  # trips within the flow
        tiers = ("default", "vip", "market_maker")
        profiles = ("default", "tight")
        accounts = [
            driver.account(tiers[n % 3], profiles[n % 2], BTC=10**9, ETH=10**10, USDT=10**12)
            for n in range(20)
        ]
        for _ in range(4_000):
            live = list(driver.state.engine.orders)
            driver.run(next_command(rng.randint, accounts, live, driver.ts))
        # The flow must have exercised what reporting touches.
        all_events = [e for events in driver.events_by_seq.values() for e in events]
        assert any(isinstance(e, TradeExecuted) for e in all_events), f"seed {seed}"
        assert any(
            isinstance(e, KillSwitchChanged) and e.reason == "daily_loss_limit" for e in all_events
        ), f"seed {seed}: no daily loss limit tripped"

        quiet = VenueState(accounts=True)
        quiet.set_reporting(False)
        for sequenced in driver.history:
            events = apply(quiet, sequenced)
            live_events = driver.events_by_seq[sequenced.seq]
            assert _essential(events) == _essential(live_events), f"seed {seed} seq {sequenced.seq}"
            assert not any(isinstance(e, NEVER_WHEN_OFF) for e in events), (
                f"seed {seed} seq {sequenced.seq}"
            )
            if sequenced.seq % 500 == 0:
                assert quiet.check_invariants() == [], f"seed {seed} seq {sequenced.seq}"
        assert quiet.state_hash() == driver.state.state_hash(), f"seed {seed}"


def test_reporting_back_on_reports_every_change_again() -> None:
    """Switching reporting on after a quiet stretch must not leave stale 'changed' marks:
    the next command reports its balances as they are."""
    driver = Driver(BTC_USDT)
    account = driver.account("default", USDT=10**9)
    state = VenueState(accounts=True)
    state.set_reporting(False)
    for sequenced in driver.history:
        apply(state, sequenced)
    state.set_reporting(True)
    driver.run(Deposit(account, "USDT", 5))
    events = apply(state, driver.history[-1])
    assert events == driver.events_by_seq[driver.seq]
    assert [e for e in events if isinstance(e, BalanceChanged)] == [
        BalanceChanged(account, "USDT", 10**9 + 5, 0)
    ]
