"""The workload loader, its id mapping and the end-state check, on a tiny hand-made workload.

The ten lines of TINY and what they do (venue order id = seq; seq 1 is the AddInstrument):

    line  seq  op                      effect                                   resting
    L,1   2    buy 10 @ 100            rests                                    1
    L,2   3    buy 5 @ 99              rests                                    2
    L,3   4    sell 7 @ 102            rests                                    3
    L,4   5    sell 4 @ 103            rests                                    4
    M,5   6    market buy 9            7 @ 102 (fills seq 4), 2 @ 103           3
    L,6   7    sell 12 @ 100           10 @ 100 (fills seq 2), 2 rest @ 100     3
    C,2   8    cancel seq 3            the bid at 99 goes                       2
    L,7   9    buy 3 @ 98              rests                                    3
    L,8   10   buy 6 @ 98              rests behind seq 9                       4
    M,9   11   market sell 4           3 @ 98 (fills seq 9), 1 @ 98 (seq 10)    3

End: 5 fills, 23 lots traded; bids 98 x 5 (1 order); asks 100 x 2 and 103 x 2.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from venue.bench.workload import (
    EndStateReport,
    EventTally,
    Workload,
    WorkloadError,
    check_end_state,
    expected_path,
    load_expected,
    load_workload,
    replay,
    workload_name,
)
from venue.core import VenueState
from venue.domain.commands import AddInstrument, CancelOrder, PlaceOrder
from venue.domain.values import OrderType, Side, TimeInForce

TINY = """op,order_id,side,price_ticks,qty_lots
L,1,B,100,10
L,2,B,99,5
L,3,S,102,7
L,4,S,103,4
M,5,B,,9
L,6,S,100,12
C,2,B,99,5
L,7,B,98,3
L,8,B,98,6
M,9,S,,4
"""

TINY_EXPECTED = {
    "n_ops": 10,
    "seed": 1,
    "n_limit": 7,
    "n_cancel": 1,
    "n_market": 2,
    "n_fills": 5,
    "traded_qty": 23,
    "best_bid": 98,
    "best_ask": 100,
    "bid_vol": 5,
    "ask_vol": 4,
    "resting": 3,
    "max_resting": 4,
    "bid_levels": 1,
    "ask_levels": 2,
}


def write_workload(directory: Path, text: str, expected: dict[str, object] | None = None) -> Path:
    path = directory / "tiny.csv.gz"
    with gzip.open(path, "wt", encoding="ascii") as stream:
        stream.write(text)
    if expected is not None:
        expected_path(path).write_text(json.dumps(expected))
    return path


def replayed(workload: Workload) -> tuple[VenueState, EventTally]:
    state = VenueState()
    tally = EventTally()
    replay(state, workload.commands, tally)
    return state, tally


def check(workload: Workload, expected: dict[str, object]) -> EndStateReport:
    state, tally = replayed(workload)
    return check_end_state(workload, expected, state, tally)


@pytest.fixture
def tiny(tmp_path: Path) -> Workload:
    return load_workload(write_workload(tmp_path, TINY, TINY_EXPECTED))


def test_the_loader_makes_one_sequenced_command_per_line_after_the_instrument(
    tiny: Workload,
) -> None:
    assert tiny.name == "tiny"
    assert (tiny.n_ops, tiny.n_limit, tiny.n_cancel, tiny.n_market) == (10, 7, 1, 2)
    (setup,) = tiny.setup
    assert setup.seq == 1
    assert isinstance(setup.command, AddInstrument)
    assert setup.command.instrument.symbol == tiny.symbol
    assert setup.command.instrument.price_band_bps == 0
    assert setup.command.instrument.max_book_orders > tiny.n_limit
    assert [c.seq for c in tiny.ops] == list(range(2, 12))
    assert [c.ts_ns for c in tiny.commands] == [seq * 1000 for seq in range(1, 12)]


def test_a_limit_line_becomes_a_gtc_limit_order_of_its_own_account(tiny: Workload) -> None:
    first = tiny.ops[0].command
    assert first == PlaceOrder(
        account_id=1,
        symbol=tiny.symbol,
        side=Side.BUY,
        order_type=OrderType.LIMIT,
        qty_lots=10,
        price_ticks=100,
        tif=TimeInForce.GTC,
    )


def test_a_market_line_becomes_a_market_order_without_price(tiny: Workload) -> None:
    market = tiny.ops[4].command
    assert isinstance(market, PlaceOrder)
    assert (market.order_type, market.side, market.qty_lots) == (OrderType.MARKET, Side.BUY, 9)
    assert market.price_ticks is None
    assert market.account_id == 5


def test_a_cancel_names_the_seq_that_placed_the_order(tiny: Workload) -> None:
    # workload order 2 was placed by line 2, which is seq 3
    assert tiny.ops[6].command == CancelOrder(account_id=2, order_id=3)


def test_the_limit_keeps_only_the_first_lines(tmp_path: Path) -> None:
    workload = load_workload(write_workload(tmp_path, TINY), limit=4)
    assert workload.n_ops == 4
    assert workload.n_limit == 4


def test_the_hand_computed_end_state_passes(tiny: Workload) -> None:
    report = check(tiny, TINY_EXPECTED)
    assert report.ok, report.table()
    assert report.unchecked == []
    by_key = {c.key: c.actual for c in report.checks}
    assert by_key["n_fills"] == 5
    assert by_key["traded_qty"] == 23
    assert by_key["max_resting"] == 4
    assert by_key["rejects"] == 0
    assert by_key["broken_invariants"] == 0
    assert by_key["bid_vol~events"] == 5
    assert "seed" not in by_key


def test_a_wrong_figure_fails_and_the_table_shows_expected_and_actual(tiny: Workload) -> None:
    report = check(tiny, {**TINY_EXPECTED, "traded_qty": 24, "best_ask": 101})
    assert not report.ok
    assert {(c.key, c.expected, c.actual) for c in report.mismatches} == {
        ("traded_qty", 24, 23),
        ("best_ask", 101, 100),
    }
    lines = report.table(only_mismatches=True).splitlines()
    assert len(lines) == 3
    assert "DIFF" in lines[1]
    assert "24" in lines[1] and "23" in lines[1]


def test_an_unknown_expected_figure_is_listed_not_failed(tiny: Workload) -> None:
    report = check(tiny, {**TINY_EXPECTED, "median_spread": 3})
    assert report.ok
    assert report.unchecked == ["median_spread"]


def test_a_command_the_core_rejects_fails_the_check(tmp_path: Path) -> None:
    # the cancel comes after the order was filled: the core answers unknown_order
    text = "op,order_id,side,price_ticks,qty_lots\nL,1,B,100,5\nM,2,S,,5\nC,1,B,100,5\n"
    workload = load_workload(write_workload(tmp_path, text))
    report = check(workload, {})
    assert [(c.key, c.actual) for c in report.mismatches] == [("rejects", 1)]


def test_an_empty_book_has_no_best_prices(tmp_path: Path) -> None:
    text = "op,order_id,side,price_ticks,qty_lots\nL,1,B,100,5\nC,1,B,100,5\n"
    workload = load_workload(write_workload(tmp_path, text))
    expected = {"best_bid": None, "best_ask": None, "resting": 0, "max_resting": 1}
    assert check(workload, expected).ok


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("id,op\nL,1,B,100,5\n", "header"),
        ("op,order_id,side,price_ticks,qty_lots\nC,7,B,100,5\n", "tiny.csv.gz:2"),
        ("op,order_id,side,price_ticks,qty_lots\nX,1,B,100,5\n", "op 'X'"),
        ("op,order_id,side,price_ticks,qty_lots\nL,1,Q,100,5\n", "side 'Q'"),
        ("op,order_id,side,price_ticks,qty_lots\nL,1,B,100\n", "4 fields"),
        ("op,order_id,side,price_ticks,qty_lots\nL,1,B,100,5\nL,1,B,100,5\n", "placed twice"),
    ],
)
def test_a_malformed_workload_is_refused_with_its_line(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(WorkloadError, match=message):
        load_workload(write_workload(tmp_path, text))


def test_names_and_expected_paths_follow_the_workload_file() -> None:
    path = Path("/x/w1.csv.gz")
    assert workload_name(path) == "w1"
    assert expected_path(path) == Path("/x/w1.expected.json")


def test_expected_figures_load_from_json(tmp_path: Path) -> None:
    path = write_workload(tmp_path, TINY, TINY_EXPECTED)
    assert load_expected(expected_path(path)) == TINY_EXPECTED
