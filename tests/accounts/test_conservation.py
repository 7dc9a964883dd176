"""Conservation of every asset, as a Hypothesis property and in a seeded simulation of many
accounts: after every command, for every asset, the sum of available + held over all
accounts (the fee account included) equals deposits minus withdrawals; nothing is negative;
held equals what live orders reserve; and the postings alone rebuild every balance."""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.accounts.driver import BTC_USDT, ETH_USDT, Driver
from tests.accounts.flows import next_command

from venue.core import VenueState, apply
from venue.domain.commands import Deposit


def _funded_venue(accounts: int) -> tuple[Driver, list[int]]:
    driver = Driver(BTC_USDT, ETH_USDT)
    tiers = ("default", "vip", "market_maker")
    ids = []
    for n in range(accounts):
        if n % 4 == 3:  # thinly funded: these run into insufficient_balance
            ids.append(driver.account(tiers[n % 3], BTC=10**6, ETH=10**7, USDT=2 * 10**7))
        else:
            ids.append(driver.account(tiers[n % 3], BTC=10**9, ETH=10**10, USDT=10**12))
    return driver, ids


def _assert_sound(driver: Driver) -> None:
    assert driver.state.check_invariants() == []
    assert driver.mirror.differences(driver.state) == []


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_every_asset_is_conserved_after_every_command(data: st.DataObject) -> None:
    driver, accounts = _funded_venue(4)
    steps = data.draw(st.integers(10, 80), label="steps")
    for _ in range(steps):
        live = sorted(driver.state.engine.orders)
        command = next_command(
            lambda lo, hi: data.draw(st.integers(lo, hi)), accounts, live, driver.ts
        )
        driver.run(command)
        _assert_sound(driver)


def test_seeded_simulation_of_many_accounts_conserves_and_replays() -> None:
    """50 accounts, 6,000 commands; the seed is printed on failure by the assertion message."""
    for seed in (1, 2, 3):
        rng = random.Random(seed)
        driver, accounts = _funded_venue(50)
        for step in range(6_000):
            live = list(driver.state.engine.orders)
            driver.run(next_command(rng.randint, accounts, live, driver.ts))
            if step % 500 == 0:
                assert driver.state.ledger.problems() == [], f"seed {seed} step {step}"
        _assert_sound(driver)
        trades = driver.state.engine.next_trade_id - 1
        assert trades > 200, f"seed {seed}: the flow should trade ({trades} trades)"
        replayed = VenueState(accounts=True)
        for sequenced in driver.history:
            apply(replayed, sequenced)
        assert replayed.state_hash() == driver.state.state_hash(), f"seed {seed}"


def test_a_snapshot_restored_mid_flow_ends_in_the_same_state() -> None:
    rng = random.Random(7)
    driver, accounts = _funded_venue(10)
    for _ in range(1_500):
        driver.run(
            next_command(rng.randint, accounts, sorted(driver.state.engine.orders), driver.ts)
        )
    restored = VenueState.from_snapshot(driver.state.snapshot())
    assert restored.state_hash() == driver.state.state_hash()
    start = len(driver.history)
    for _ in range(1_500):
        driver.run(
            next_command(rng.randint, accounts, sorted(driver.state.engine.orders), driver.ts)
        )
    for sequenced in driver.history[start:]:
        assert apply(restored, sequenced) == driver.events_by_seq[sequenced.seq]
    assert restored.state_hash() == driver.state.state_hash()
    assert restored.check_invariants() == []


def test_deposits_of_unknown_assets_and_accounts_change_nothing() -> None:
    driver, accounts = _funded_venue(1)
    before = driver.state.state_hash()
    for command in (
        Deposit(accounts[0], "DOGE", 5),
        Deposit(999, "USDT", 5),
        Deposit(accounts[0], "USDT", 0),
    ):
        events = driver.run(command)
        assert len(events) == 1 and type(events[0]).__name__ == "CommandRejected"
    assert driver.state.ledger.accounts[accounts[0]].balances["USDT"].available == 10**12
    assert before != driver.state.state_hash()  # seq moved on, balances did not


def test_deposits_that_would_not_fit_64_bits_are_refused_and_change_nothing() -> None:
    """Snapshots and the journal hold 64-bit integers: a balance past 2**62 must never exist."""
    driver, accounts = _funded_venue(2)
    before = driver.balance(accounts[0], "USDT")
    for amount in (2**62 + 1, 2**70):
        events = driver.run(Deposit(accounts[0], "USDT", amount))
        assert [type(e).__name__ for e in events] == ["CommandRejected"]
    near_limit = 2**62 - driver.state.ledger.deposited["USDT"]
    assert (
        type(driver.run(Deposit(accounts[1], "USDT", near_limit + 1))[0]).__name__
        == "CommandRejected"
    )
    assert driver.balance(accounts[0], "USDT") == before
    driver.run(Deposit(accounts[1], "USDT", near_limit))
    assert driver.state.check_invariants() == []
    assert len(driver.state.state_hash()) == 64  # the snapshot still encodes
