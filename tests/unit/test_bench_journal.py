"""`venue bench journal`: the accounts rewrite keeps the workload's matching, and a short run
journals, recovers and agrees with itself."""

from __future__ import annotations

from pathlib import Path

import pytest

from venue.bench.journal import accounts_flow, bare_flow, run_journal_bench
from venue.bench.workload import EventTally, book_figures, load_workload
from venue.core import VenueState, apply
from venue.domain.events import CommandRejected, OrderRejected

W1 = Path(__file__).resolve().parents[3] / "shared" / "workloads" / "w1.csv.gz"
needs_w1 = pytest.mark.skipif(not W1.is_file(), reason="no ../shared/workloads/w1.csv.gz")


@needs_w1
def test_the_accounts_rewrite_matches_exactly_like_the_bare_workload() -> None:
    workload = load_workload(W1, limit=5000)
    results = []
    for flow in (bare_flow(workload), accounts_flow(workload)):
        state = VenueState(accounts=flow.accounts)
        tally = EventTally()
        rejects = 0
        for command in flow.sequenced():
            events = apply(state, command)
            tally.observe(events)
            rejects += sum(isinstance(e, OrderRejected | CommandRejected) for e in events)
        assert rejects == 0
        assert state.check_invariants() == []
        results.append((tally.n_fills, tally.traded_qty, book_figures(state, flow.symbol)))
    assert results[0] == results[1]


@needs_w1
@pytest.mark.parametrize("accounts", [False, True])
def test_a_short_journal_bench_recovers_the_live_state(tmp_path: Path, accounts: bool) -> None:
    result = run_journal_bench(W1, 2, accounts=accounts, directory=tmp_path, limit=3000)
    assert result.end_state_ok and result.recovered_hash_ok
    assert result.ops == 3000
    assert result.fsyncs >= 1
    assert result.replayed == 3000 + (1 + 32 + 64 if accounts else 1)  # + the setup
    assert not list(tmp_path.iterdir())  # the runs' directories are removed
