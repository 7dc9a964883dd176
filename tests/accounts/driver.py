"""A small driver for tests: a venue with accounts, sequenced commands, and checks after each."""

from __future__ import annotations

from collections import defaultdict

from venue.core import VenueState, apply
from venue.domain.commands import (
    AddInstrument,
    Command,
    CreateAccount,
    Deposit,
    SequencedCommand,
)
from venue.domain.events import (
    AccountCreated,
    BalanceChanged,
    Event,
    LedgerPosted,
)
from venue.domain.instrument import Instrument

BTC_USDT = Instrument.create(
    "BTC-USDT",
    "BTC",
    "USDT",
    "0.01",
    "0.001",
    8,
    6,
    price_band_bps=2_000,
    reference_price_ticks=10_000,
)
ETH_USDT = Instrument.create("ETH-USDT", "ETH", "USDT", "0.01", "0.01", 8, 6)


class Driver:
    def __init__(self, *instruments: Instrument, step_ns: int = 1_000_000) -> None:
        self.state = VenueState(accounts=True)
        self.seq = 0
        self.ts = 0
        self.step_ns = step_ns
        self.history: list[SequencedCommand] = []
        self.mirror = PostingMirror()
        self.events_by_seq: dict[int, list[Event]] = {}
        for instrument in instruments or (BTC_USDT,):
            self.run(AddInstrument(instrument))

    def run(self, command: Command, ts: int | None = None) -> list[Event]:
        self.seq += 1
        self.ts = self.ts + self.step_ns if ts is None else ts
        sequenced = SequencedCommand(self.seq, self.ts, command)
        self.history.append(sequenced)
        events = apply(self.state, sequenced)
        check_events(self.state, events)
        self.mirror.apply(events)
        self.events_by_seq[self.seq] = events
        return events

    def account(
        self, fee_tier: str = "default", risk_profile: str = "default", **funds: int
    ) -> int:
        events = self.run(CreateAccount(fee_tier, risk_profile))
        created = [e for e in events if isinstance(e, AccountCreated)]
        assert created, events
        account_id = created[0].account_id
        for asset, amount in funds.items():
            self.run(Deposit(account_id, asset, amount))
        return account_id

    def balance(self, account_id: int, asset: str) -> tuple[int, int]:
        balance = self.state.ledger.accounts[account_id].balances.get(asset)
        return (0, 0) if balance is None else (balance.available, balance.held)


class PostingMirror:
    """Balances rebuilt from postings alone. If they ever differ from the ledger's, some
    movement was not posted (or was posted wrong): the postings are the books."""

    def __init__(self) -> None:
        self.buckets: dict[tuple[int, str, int], int] = defaultdict(int)

    def apply(self, events: list[Event]) -> None:
        for event in events:
            if isinstance(event, LedgerPosted):
                for posting in event.postings:
                    assert posting.amount > 0, posting
                    assert (posting.debit_account, posting.debit_bucket) != (
                        posting.credit_account,
                        posting.credit_bucket,
                    )
                    self.buckets[(posting.debit_account, posting.asset, posting.debit_bucket)] -= (
                        posting.amount
                    )
                    self.buckets[
                        (posting.credit_account, posting.asset, posting.credit_bucket)
                    ] += posting.amount

    def differences(self, state: VenueState) -> list[str]:
        actual: dict[tuple[int, str, int], int] = defaultdict(int)
        for account_id, account in state.ledger.accounts.items():
            for asset, balance in account.balances.items():
                actual[(account_id, asset, 1)] = balance.available
                actual[(account_id, asset, 2)] = balance.held
        keys = {k for k in set(actual) | set(self.buckets) if k[0] != -1}
        return [
            f"{k}: postings say {self.buckets[k]}, ledger {actual[k]}"
            for k in sorted(keys)
            if self.buckets[k] != actual[k]
        ]


def check_events(state: VenueState, events: list[Event]) -> None:
    """Each BalanceChanged reports the balance as it is after the command."""
    for event in events:
        if isinstance(event, BalanceChanged):
            balance = state.ledger.accounts[event.account_id].balances[event.asset]
            assert (event.available, event.held) == (balance.available, balance.held)
