"""Reading the journal back: framing and CRC checks, seq continuity, torn tails.

Invariants:
- Reading never changes a file. Whether a torn tail gets truncated is recovery's decision,
  made only after the whole read succeeded.
- Commands come out in seq order with no gap: the first command of each segment has the seq
  in the segment's name, each next one the seq after. A gap, a repeat or a segment that does
  not continue its predecessor is corruption.

Torn tail or corruption: the rule, applied where a bad record is found (`classify_bad_record`;
one rule for recovery, `venue replay` and `venue journal verify`, which therefore agree).
A record is `[length u32][crc32c u32][payload]`; a crash during an append leaves a *prefix* of
one write, so a torn write can only be a record the file ends in the middle of. At a bad
record at offset `pos`:
1. not in the last segment: corruption (nothing is ever appended to an earlier segment);
2. a valid record follows it anywhere in the segment: corruption (a damaged length field in
   the middle of the segment would otherwise look "torn" and cut off acknowledged records);
3. the file ends before the record does (fewer than 8 header bytes, or fewer than `length`
   payload bytes, whatever `length` says): torn tail;
4. a zero length field (a zero-filled or preallocated tail; `length` is never 0): torn tail;
5. header and all `length` payload bytes present but the CRC does not match: corruption, not a
   torn write (a crash cannot leave it, a bit flip can, and truncating it would silently drop
   an acknowledged record) -- except when those payload bytes are all zero: the filesystem
   extended the file but never wrote its data blocks before the crash, and a zero-filled
   payload is never a valid record (its kind byte would be 0), so that is a torn tail.
A torn tail is truncated at `pos` by the next start (`venue journal verify` notes it);
corruption is `CorruptJournalError`, which names the file, the byte offset of the bad record
and the reason, and nothing is repaired. These checks run once, at the bad record, never per
record: the replay loops are untouched by them.

Known limitation: after a power loss (not a process crash) the filesystem may keep a later
unsynced page of the tail and lose an earlier one. Such a tail has a bad record followed by a
valid one, or a whole final record whose payload is only partly zero, and is reported as
corruption, with its offset, rather than guessed at; if the operator knows those records were
never acknowledged (they are past the last fsync), truncating the segment at that offset by
hand is safe.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from venue.domain.commands import SequencedCommand
from venue.journal.codec import (
    HEADER,
    HEADER_SIZE,
    KIND_COMMAND_V1,
    KIND_MARK_V1,
    RECORD_SIZE_MAX,
    Record,
    RecordError,
    command_decoder,
    crc32c,
    decode_payload,
)
from venue.journal.layout import Segment, list_segments

ProgressCallback = Callable[[int, int], None]
"""Called with (bytes read so far, bytes to read in all) while a long read goes on."""

PROGRESS_EVERY_RECORDS = 1 << 16


class JournalError(Exception):
    """The journal cannot be used as it is; the message says why and where. `directory` is
    the journal directory, when the raiser knows it (`recover` always sets it)."""

    directory: Path | None = None


class CorruptJournalError(JournalError):
    """A bad record that is not a torn tail, a gap in seqs, or a missing segment: `path` is
    the file, `offset` the byte offset of the bad record in it, `reason` what is wrong."""

    def __init__(self, path: Path, offset: int, reason: str) -> None:
        super().__init__(f"{path}: offset {offset}: {reason}")
        self.path = path
        self.offset = offset
        self.reason = reason


@dataclass(frozen=True)
class TornTail:
    """The incomplete end of the last segment: valid records stop at `offset`."""

    path: Path
    offset: int
    file_size: int
    reason: str

    def __str__(self) -> str:
        cut = self.file_size - self.offset
        return f"{self.path}: torn tail at offset {self.offset} ({cut} bytes): {self.reason}"


class SegmentScanner:
    """The records of one segment's bytes, checked. After `records()` is exhausted, `end` is
    the offset where valid records stop and `torn` says why, if that is before the end."""

    def __init__(self, path: Path, data: bytes, *, is_last: bool) -> None:
        self.path = path
        self.data = data
        self.is_last = is_last
        self.offset = 0  # of the record last yielded
        self.end = 0
        self.torn: TornTail | None = None

    def records(self) -> Iterator[Record]:
        """Every record, decoded. Hot loop of replay: locals only, commands decoded inline."""
        data = self.data
        size = len(data)
        view = memoryview(data)
        unpack = HEADER.unpack_from
        decode_command = command_decoder().decode
        pos = 0
        while pos < size:
            if size - pos < HEADER_SIZE:
                self.bad(pos, "incomplete record header")
                return
            length, crc = unpack(data, pos)
            start = pos + HEADER_SIZE
            end = start + length
            if length == 0 or length > RECORD_SIZE_MAX:
                self.bad(pos, f"impossible record length {length}")
                return
            if end > size:
                self.bad(pos, f"record of {length} bytes runs past the end of the file")
                return
            payload = data[start:end]
            if crc32c(payload) != crc:
                self.bad(pos, "CRC mismatch")
                return
            self.offset = pos
            if data[start] == KIND_COMMAND_V1:
                try:
                    record: Record = decode_command(view[start + 1 : end])
                except ValueError as exc:
                    raise CorruptJournalError(
                        self.path, pos, f"undecodable command: {exc}"
                    ) from exc
            else:
                try:
                    record = decode_payload(payload)
                except RecordError as exc:
                    raise CorruptJournalError(self.path, pos, str(exc)) from exc
            pos = end
            self.end = pos
            yield record
        self.end = pos

    def bad(self, pos: int, reason: str) -> None:
        """Classify a bad record at `pos`: torn tail (returns) or corruption (raises)."""
        self.end = pos
        self.torn = classify_bad_record(self.path, self.data, pos, reason, is_last=self.is_last)


def classify_bad_record(
    path: Path, data: bytes, pos: int, reason: str, *, is_last: bool
) -> TornTail:
    """The torn tail that a bad record at `pos` of segment `data` starts, or
    CorruptJournalError if it is corruption (the rule of the module docstring). `reason` says
    what the reading loop found wrong. Runs once per read, at the first bad record."""
    if not is_last:
        raise CorruptJournalError(path, pos, f"{reason} (not the last segment)")
    following = valid_record_after(data, pos)
    if following is not None:
        raise CorruptJournalError(
            path, pos, f"{reason}, yet a valid record follows at offset {following}"
        )
    size = len(data)
    if size - pos >= HEADER_SIZE:
        length, crc = HEADER.unpack_from(data, pos)
        start = pos + HEADER_SIZE
        end = start + length
        if length and end <= size:  # the whole record is there: no crash leaves that
            if length > RECORD_SIZE_MAX:
                raise CorruptJournalError(path, pos, f"{reason}, with all its bytes present")
            if crc32c(data[start:end]) != crc:
                if data.count(0, start, end) != length:
                    raise CorruptJournalError(
                        path,
                        pos,
                        f"CRC mismatch, yet all {length} bytes of the record are there: a "
                        "damaged record (bit flip), not a torn write",
                    )
                reason = f"{reason} (payload all zero: never written)"
    return TornTail(path, pos, size, reason)


def valid_record_after(data: bytes, pos: int) -> int | None:
    """The offset of the first whole, CRC-valid record of a known kind starting after `pos`,
    or None. Only runs when a bad record was found, and a torn tail is short: cheap where it
    is needed, and it stops at the first hit when the damage is in the middle."""
    size = len(data)
    unpack = HEADER.unpack_from
    kinds = (KIND_COMMAND_V1, KIND_MARK_V1)
    for offset in range(pos + 1, size - HEADER_SIZE):
        if data[offset + HEADER_SIZE] not in kinds:
            continue
        length, crc = unpack(data, offset)
        end = offset + HEADER_SIZE + length
        if 0 < length <= RECORD_SIZE_MAX and end <= size:
            if crc32c(data[offset + HEADER_SIZE : end]) == crc:
                return offset
    return None


@dataclass
class ReadStats:
    commands: int = 0
    marks: int = 0
    bytes_read: int = 0


class JournalReader:
    """The journal of a directory, read from a given seq on, with every check of this module.

    Use `records(after_seq)`; afterwards `last_seq`, `torn` and `stats` describe what was read.
    """

    def __init__(self, directory: Path, progress: ProgressCallback | None = None) -> None:
        self.directory = directory
        self.segments = list_segments(directory)
        self.progress = progress
        self.last_seq = 0
        self.end_seq = 0  # the seq of the journal's last command, once read to the end
        self.torn: TornTail | None = None
        self.stats = ReadStats()
        self.offset = 0  # of the record last yielded
        self.path: Path | None = None  # its segment
        self.expected = 1  # the seq of the next command to read
        self.total_bytes = 0
        self.done_bytes = 0

    def first_seq(self) -> int | None:
        return self.segments[0].first_seq if self.segments else None

    def segments_from(self, after_seq: int) -> list[Segment]:
        """The segments that hold seq `after_seq + 1` and later."""
        wanted = after_seq + 1
        segments = self.segments
        start = 0
        for index in range(1, len(segments)):
            if segments[index].first_seq <= wanted:
                start = index
        return segments[start:]

    def plan(self, after_seq: int) -> list[Segment]:
        """The segments to read for seqs after `after_seq`; raises JournalError if the journal
        does not reach back to `after_seq + 1` (older segments pruned, no snapshot covers)."""
        segments = self.segments_from(after_seq)
        if segments and segments[0].first_seq > after_seq + 1:
            raise JournalError(
                f"{segments[0].path}: the journal starts at seq {segments[0].first_seq}, "
                f"but seq {after_seq + 1} is needed (older segments are gone and no "
                "snapshot covers them)"
            )
        return segments

    def scanners(self, after_seq: int) -> Iterator[SegmentScanner]:
        """One scanner per segment to read, in order, checking that each segment starts at
        `self.expected`, the seq the consumer says comes next (it must keep it up to date
        as it reads commands). Afterwards `torn`, `end_seq` and `stats` are set."""
        segments = self.plan(after_seq)
        self.expected = segments[0].first_seq if segments else after_seq + 1
        self.total_bytes = sum(segment.path.stat().st_size for segment in segments)
        self.done_bytes = 0
        last = self.segments[-1] if self.segments else None
        for segment in segments:
            if segment.first_seq != self.expected:
                raise CorruptJournalError(
                    segment.path,
                    0,
                    f"segment should start at seq {self.expected}, its name says "
                    f"{segment.first_seq}",
                )
            data = segment.path.read_bytes()
            scanner = SegmentScanner(segment.path, data, is_last=segment is last)
            self.path = segment.path
            yield scanner
            self.torn = scanner.torn
            self.done_bytes += len(data)
            self.stats.bytes_read += len(data)
        self.end_seq = self.expected - 1

    def report_progress(self, offset: int) -> None:
        if self.progress is not None:
            self.progress(self.done_bytes + offset, self.total_bytes)

    def records(self, after_seq: int = 0) -> Iterator[Record]:
        """Commands with seq > `after_seq`, in order, and the marks among them (marks of
        earlier seqs included: the consumer decides what to do with those). The general,
        slower path (inspect, verify); replay has its own loop (recovery.replay_into).

        Raises CorruptJournalError, or JournalError if the journal does not reach back to
        `after_seq + 1`."""
        self.last_seq = after_seq
        counted = 0
        for scanner in self.scanners(after_seq):
            for record in scanner.records():
                if type(record) is SequencedCommand:
                    if record.seq != self.expected:
                        raise CorruptJournalError(
                            scanner.path,
                            scanner.offset,
                            f"seq {record.seq} where seq {self.expected} was due",
                        )
                    self.expected += 1
                    if record.seq <= after_seq:
                        continue
                    self.last_seq = record.seq
                    counted += 1
                    if counted % PROGRESS_EVERY_RECORDS == 0:
                        self.report_progress(scanner.offset)
                else:
                    self.stats.marks += 1
                self.offset = scanner.offset
                yield record
        self.stats.commands = counted
        self.report_progress(self.total_bytes - self.done_bytes)
