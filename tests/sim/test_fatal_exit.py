"""A journal that cannot write or fsync ends the process non-zero; the restart is exact."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sim_support import Child, read_everything
from tests.tmpfs import mounted_tmpfs

from venue.domain.commands import AddInstrument, Command, PlaceOrder
from venue.domain.instrument import Instrument
from venue.domain.values import OrderType, Side
from venue.runtime.process import EXIT_FATAL


def commands(count: int) -> list[Command]:
    flow: list[Command] = [AddInstrument(Instrument.create("X", "B", "Q", "1", "1", 0, 0))]
    for index in range(count):
        side = Side.BUY if index % 2 else Side.SELL
        flow.append(
            PlaceOrder(index % 9, "X", side, OrderType.LIMIT, 1 + index % 5, 100 + index % 7)
        )
    return flow


def feed_until_exit(child: Child, flow: list[Command]) -> int:
    for command_id, command in enumerate(flow):
        if not child.send(command_id, command):
            break
        if command_id % 20 == 0 and not child.flush():
            break
    child.flush()
    return child.finish(timeout=30)


def check_restart(directory: Path, log: Path, child: Child, flow: list[Command]) -> None:
    journal = read_everything(directory)
    by_seq = {record.seq: record.command for record in journal}
    for command_id, seq in child.acks:
        assert by_seq[seq] == flow[command_id]
    again = Child(directory, log)
    assert again.last_seq == len(journal)
    assert again.close_input_and_wait() == 0


@pytest.mark.parametrize("fail_after", [1, 4, 15])
def test_an_fsync_failure_exits_non_zero_and_acks_stay_durable(
    tmp_path: Path, fail_after: int
) -> None:
    directory, log = tmp_path / "journal", tmp_path / "child.log"
    # Long enough that the N-th fsync always comes before the end, however many commands the
    # writer groups into one fsync (the inbox holds 1,000): with 3,000 it sometimes did not.
    flow = commands(20_000)
    child = Child(directory, log, "--fail-fsync-after", str(fail_after))
    assert feed_until_exit(child, flow) == EXIT_FATAL
    assert len(child.acks) < len(flow)
    assert "Input/output error" in log.read_text()
    check_restart(directory, log, child, flow)


@pytest.fixture
def tiny_tmpfs(tmp_path: Path) -> Iterator[Path]:
    with mounted_tmpfs(tmp_path, "256k") as mount_point:
        yield mount_point


def test_a_full_disk_exits_non_zero_and_the_restart_is_consistent(
    tmp_path: Path, tiny_tmpfs: Path
) -> None:
    directory, log = tiny_tmpfs / "journal", tmp_path / "child.log"
    flow = commands(20_000)
    child = Child(directory, log)
    assert feed_until_exit(child, flow) == EXIT_FATAL
    assert 0 < len(child.acks) < len(flow)
    assert "No space left on device" in log.read_text()
    check_restart(directory, log, child, flow)
