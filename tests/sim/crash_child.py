"""The process the crash loop kills: recovery, then a sequencer fed from stdin.

Protocol (text lines):
- on start, after recovery: `READY <last_seq> <state_hash>`;
- stdin: `<id>\t<command as msgspec JSON>` per command; EOF means: close cleanly and exit 0;
- stdout: `ACK <id> <seq>` once the command is durable and applied (never before).

Run as `python crash_child.py DIR [--fail-fsync-after N]`: the option makes the N-th journal
fsync after startup fail (EIO), to check that the process then exits non-zero.
"""

from __future__ import annotations

import logging
import sys
import threading
from concurrent.futures import Future
from pathlib import Path

import msgspec

from venue.domain.commands import Command
from venue.journal import FaultyFileOps, JournalConfig, SegmentRetention, recover
from venue.runtime import Reply, Sequencer, SequencerConfig, SubmitError, exit_process_on_fatal

JOURNAL_CONFIG = JournalConfig(
    segment_size_max_bytes=8192, snapshots_keep=2, segment_retention=SegmentRetention.ARCHIVE
)
SEQUENCER_CONFIG = SequencerConfig(
    inbox_capacity=1000,
    batch_size_max=32,
    tick_interval_ns=20_000_000,
    snapshot_every_commands=64,
)


def main() -> None:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    directory = Path(sys.argv[1])
    ops = FaultyFileOps()
    recovered = recover(directory, JOURNAL_CONFIG, fileops=ops)
    if "--fail-fsync-after" in sys.argv:
        after = int(sys.argv[sys.argv.index("--fail-fsync-after") + 1])
        ops.fsync_fail_at = ops.fsync_calls + after
    out_lock = threading.Lock()

    def say(line: str) -> None:
        with out_lock:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()

    say(f"READY {recovered.state.last_seq} {recovered.state.state_hash()}")
    sequencer = Sequencer(
        recovered.state,
        recovered.journal,
        snapshots=recovered.snapshots,
        config=SEQUENCER_CONFIG,
        on_fatal=exit_process_on_fatal(),
    ).start()
    decoder = msgspec.json.Decoder(Command)

    def acknowledge(command_id: str, future: Future[Reply]) -> None:
        if future.exception() is None:
            say(f"ACK {command_id} {future.result().seq}")

    for line in sys.stdin:
        command_id, _, text = line.rstrip("\n").partition("\t")
        while True:
            try:
                future = sequencer.submit(decoder.decode(text))
                break
            except SubmitError as exc:  # overloaded: wait a little; stopped: the end
                if sequencer.wait_stopped(0.001):
                    raise SystemExit(f"stopped: {exc}") from exc
        future.add_done_callback(lambda done, cid=command_id: acknowledge(cid, done))
    sequencer.close()
    if sequencer.failure is not None:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
