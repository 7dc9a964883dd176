"""Driver side of the crash simulations: a child process handle and a journal reader that
sees archived segments too (the child archives old segments, so a twin can replay from 1)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO

import msgspec

from venue.domain.commands import Command, SequencedCommand
from venue.journal.codec import SnapshotMark
from venue.journal.layout import ARCHIVE_DIRNAME, Segment, list_segments
from venue.journal.reader import SegmentScanner

CHILD = Path(__file__).with_name("crash_child.py")
_encoder = msgspec.json.Encoder()


class Child:
    """One run of crash_child.py: READY parsed, ACKs collected on a reader thread."""

    def __init__(self, directory: Path, log: Path, *extra: str) -> None:
        self.log = log.open("a")
        self.process = subprocess.Popen(
            [sys.executable, str(CHILD), str(directory), *extra],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
            bufsize=1,
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self.stdin: IO[str] = self.process.stdin
        self.stdout: IO[str] = self.process.stdout
        ready = self.stdout.readline().split()
        if not ready or ready[0] != "READY":
            self.process.wait(10)
            self._close_pipes()
            raise AssertionError(f"child did not start: {ready}, see {log}")
        self.last_seq = int(ready[1])
        self.state_hash = ready[2]
        self.acks: list[tuple[int, int]] = []  # (command id, seq)
        self.ack_event = threading.Event()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in self.stdout:
            parts = line.split()
            if parts and parts[0] == "ACK":
                self.acks.append((int(parts[1]), int(parts[2])))
                self.ack_event.set()

    def send(self, command_id: int, command: Command) -> bool:
        """False once the child is gone."""
        try:
            self.stdin.write(f"{command_id}\t{_encoder.encode(command).decode()}\n")
            return True
        except (BrokenPipeError, ValueError, OSError):
            return False

    def flush(self) -> bool:
        try:
            self.stdin.flush()
            return True
        except (BrokenPipeError, ValueError, OSError):
            return False

    def signal_kill(self) -> None:
        """SIGKILL, from any thread; `finish()` reaps the process afterwards."""
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)

    def finish(self, timeout: float = 30) -> int:
        code = self.process.wait(timeout)
        self.reader.join(timeout)
        self._close_pipes()
        return code

    def close_input_and_wait(self, timeout: float = 30) -> int:
        with contextlib.suppress(BrokenPipeError, OSError):
            self.stdin.close()
        return self.finish(timeout)

    def _close_pipes(self) -> None:
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                with contextlib.suppress(BrokenPipeError, OSError):
                    stream.close()
        self.log.close()


def all_segments(directory: Path) -> list[Segment]:
    archive = directory / ARCHIVE_DIRNAME
    found = list_segments(directory)
    if archive.is_dir():
        found += list_segments(archive)
    return sorted(found)


def read_everything(directory: Path) -> list[SequencedCommand]:
    """Every command of the journal, archived segments included, checked for continuity. A
    torn tail is tolerated (the next start truncates it); corruption raises."""
    segments = all_segments(directory)
    commands: list[SequencedCommand] = []
    for index, segment in enumerate(segments):
        scanner = SegmentScanner(
            segment.path, segment.path.read_bytes(), is_last=index == len(segments) - 1
        )
        for record in scanner.records():
            if isinstance(record, SnapshotMark):
                continue
            expected = commands[-1].seq + 1 if commands else 1
            assert record.seq == expected, f"{segment.path}: seq {record.seq}, not {expected}"
            commands.append(record)
    return commands
