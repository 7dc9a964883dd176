"""Recovery, the only startup path: newest valid snapshot + replay of the journal after it.

Also the read-only relatives used by the CLI: `replay` (the state at any seq), `verify` (every
record and snapshot checked) and `inspect` (records, readably).

Invariants:
- `recover` changes nothing on disk until everything has been read and checked: on
  corruption, a seq gap, a hash mismatch or a snapshot ahead of the journal it raises and the
  directory is as it was. Only then does it truncate a torn tail (and fsync it), remove
  leftover `.tmp` snapshot files, and open the journal for appending after the last seq.
- Torn tail or corruption is decided by one rule, `reader.classify_bad_record` (see the
  reader's docstring): only a final record the file ends in the middle of, a zero-filled
  tail, or a whole final record whose payload is all zero is torn and truncated; a whole
  final record with a CRC mismatch is a bit flip, and startup refuses as for any corruption.
  `verify` and `replay` classify the same way (`verify` notes a torn tail, which the next
  start truncates, and reports corruption as a problem).
- A refused start raises a `JournalError` whose `directory` is set (`CorruptJournalError`
  also has `path`, `offset` and `reason`): the CLI turns it into one line for the operator.
- A snapshot that cannot be used (bad frame or CRC, does not decode, its rebuilt state has
  another hash or seq) is skipped for the one before it; the reasons are reported. Without
  any usable snapshot, replay starts from the empty state at seq 0.
- Every `TakeSnapshot` replayed yields a hash; every mark record of the journal for a seq
  after the base must equal the replayed hash of that seq, or startup stops
  (`HashMismatchError`): the core is not deterministic, or the code changed under the journal.
- `replay`, `verify` and `inspect` never write, never lock, and may run beside a live venue
  (whose tail may then look torn).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from time import perf_counter

import google_crc32c

from venue.core import VenueState, apply
from venue.domain.commands import SequencedCommand, TakeSnapshot
from venue.domain.events import Event, SnapshotMarked
from venue.journal.codec import (
    HEADER,
    HEADER_SIZE,
    KIND_COMMAND_V1,
    RECORD_SIZE_MAX,
    Record,
    RecordError,
    SnapshotMark,
    command_decoder,
    decode_payload,
)
from venue.journal.config import JournalConfig
from venue.journal.fastreplay import Cursor, replay_run
from venue.journal.fileops import FileOps, OsFileOps
from venue.journal.layout import SnapshotFile, list_temporary
from venue.journal.reader import (
    PROGRESS_EVERY_RECORDS,
    CorruptJournalError,
    JournalError,
    JournalReader,
    ProgressCallback,
    SegmentScanner,
    TornTail,
)
from venue.journal.snapshots import SnapshotStore
from venue.journal.writer import FileJournal, lock_directory

log = logging.getLogger(__name__)


Observer = Callable[[SequencedCommand, list[Event]], None]


class RecoveryError(JournalError):
    """Startup cannot produce a trustworthy state; the message says why and where."""


class HashMismatchError(RecoveryError):
    """The replayed state hash at a snapshot point differs from the one recorded."""


@dataclass(frozen=True)
class SkippedSnapshot:
    path: Path
    reason: str


@dataclass
class ReplayResult:
    replayed: int = 0
    marks_checked: int = 0
    hashes: dict[int, str] = field(default_factory=dict)  # seq -> hash, as asked for


@dataclass
class RecoveryReport:
    directory: Path
    snapshot: SnapshotFile | None
    skipped: list[SkippedSnapshot]
    replayed: int
    marks_checked: int
    last_seq: int
    state_hash: str
    torn: TornTail | None
    removed_temporary: list[Path]
    elapsed_s: float

    def lines(self) -> list[str]:
        base = f"snapshot at seq {self.snapshot.seq}" if self.snapshot else "empty state (seq 0)"
        lines = [
            f"recovered {self.directory} in {self.elapsed_s:.3f} s: {base} + "
            f"{self.replayed:,} commands replayed ({self.marks_checked} snapshot hashes checked)",
            f"last seq {self.last_seq}, state hash {self.state_hash}",
        ]
        lines.extend(f"skipped snapshot {s.path.name}: {s.reason}" for s in self.skipped)
        if self.torn is not None:
            lines.append(f"truncated {self.torn}")
        lines.extend(f"removed leftover {path.name}" for path in self.removed_temporary)
        return lines


@dataclass
class Recovered:
    """What startup hands to the runtime: the state, the journal to append to (it holds the
    directory's lock until closed) and the snapshot store."""

    state: VenueState
    journal: FileJournal
    snapshots: SnapshotStore
    report: RecoveryReport


def recover(
    directory: Path,
    config: JournalConfig | None = None,
    fileops: FileOps | None = None,
    progress: ProgressCallback | None = None,
    *,
    initial_state: Callable[[], VenueState] = VenueState,
) -> Recovered:
    """Rebuild the state from `directory` (created if missing) and open its journal.

    `initial_state` makes the state at seq 0 (say, `VenueState(accounts=True)`). It is used
    only for a brand-new directory, where it is saved at once as the genesis snapshot
    (seq 0): from then on the directory itself says what the venue started as, and every
    later start, replay or verify rebuilds from its snapshots, not from this argument (unless
    every snapshot has become unusable; the snapshot marks in the journal then catch a wrong
    initial state)."""
    started = perf_counter()
    config = config or JournalConfig()
    ops: FileOps = fileops or OsFileOps()
    directory.mkdir(parents=True, exist_ok=True)
    lock_fd = lock_directory(directory)
    try:
        store = SnapshotStore(directory, config, ops)
        state, base, skipped = load_base(store, initial_state=initial_state)
        base_seq = base.seq if base is not None else 0
        reader = JournalReader(directory, progress)
        brand_new = base is None and not skipped and not reader.segments
        log.info(
            "recovering %s from %s: replaying %d segment(s) after seq %d",
            directory,
            base.path.name if base is not None else "the initial state",
            len(reader.segments_from(base_seq)),
            base_seq,
        )
        result = replay_into(state, reader, base_seq)
        if base is not None and reader.end_seq < base_seq:
            raise RecoveryError(
                f"{base.path}: snapshot at seq {base_seq} is ahead of the journal, which ends "
                f"at seq {reader.end_seq}: journal segments are missing"
            )
        # Everything checked: from here on, repair and continue.
        torn = reader.torn
        if torn is not None:
            log.warning("truncating %s", torn)
            ops.truncate(torn.path, torn.offset)
        removed = list_temporary(directory)
        for path in removed:
            ops.remove(path)
        if torn is not None or removed:
            ops.fsync_dir(directory)
        if brand_new:
            store.save(0, state.state_hash(), state.snapshot())
            base = store.list()[-1]
        tail = reader.segments[-1].path if reader.segments else None
        journal = FileJournal(
            directory,
            next_seq=state.last_seq + 1,
            tail_segment=tail,
            config=config,
            fileops=ops,
            lock_fd=lock_fd,
        )
    except BaseException as exc:
        os.close(lock_fd)
        if isinstance(exc, JournalError) and exc.directory is None:
            exc.directory = directory
        raise
    report = RecoveryReport(
        directory=directory,
        snapshot=base,
        skipped=skipped,
        replayed=result.replayed,
        marks_checked=result.marks_checked,
        last_seq=state.last_seq,
        state_hash=state.state_hash(),
        torn=torn,
        removed_temporary=removed,
        elapsed_s=perf_counter() - started,
    )
    for line in report.lines():
        log.info(line)
    return Recovered(state, journal, store, report)


def load_base(
    store: SnapshotStore,
    at_most_seq: int | None = None,
    initial_state: Callable[[], VenueState] = VenueState,
) -> tuple[VenueState, SnapshotFile | None, list[SkippedSnapshot]]:
    """The newest usable snapshot (at or below `at_most_seq`), rebuilt and hash-checked, or
    `initial_state()`. Unusable ones are skipped, with the reason."""
    skipped: list[SkippedSnapshot] = []
    for snapshot in reversed(store.list()):
        if at_most_seq is not None and snapshot.seq > at_most_seq:
            continue
        try:
            state = load_snapshot_state(store, snapshot)
        except Exception as exc:  # any failure to rebuild means: not usable, try an older one
            log.error("skipping snapshot %s: %s", snapshot.path, exc)
            skipped.append(SkippedSnapshot(snapshot.path, str(exc)))
            continue
        return state, snapshot, skipped
    return initial_state(), None, skipped


def load_snapshot_state(store: SnapshotStore, snapshot: SnapshotFile) -> VenueState:
    image = store.load(snapshot)
    state = VenueState.from_snapshot(image.state)
    if state.last_seq != image.seq:
        raise RecoveryError(f"{snapshot.path}: state is at seq {state.last_seq}, not {image.seq}")
    rebuilt = state.state_hash()
    if rebuilt != image.state_hash:
        raise RecoveryError(
            f"{snapshot.path}: rebuilt state hash {rebuilt} differs from the recorded "
            f"{image.state_hash}"
        )
    return state


def replay_into(
    state: VenueState,
    reader: JournalReader,
    after_seq: int,
    to_seq: int | None = None,
    hash_at: frozenset[int] = frozenset(),
    observe: Observer | None = None,
) -> ReplayResult:
    """Apply the journal's commands after `after_seq` (up to `to_seq`) to `state`, checking
    every mark against the replayed hash. `hash_at`: seqs whose state hash to record;
    `observe`: called with each command and its events."""
    replay = _Replay(state, reader, after_seq, to_seq, hash_at, observe)
    # Nobody reads the events: leave out those that only report (the state reached is the
    # same; VenueState.set_reporting).
    state.set_reporting(observe is not None)
    try:
        for scanner in reader.scanners(after_seq):
            replay.segment(scanner)
            if replay.finished:
                break
    finally:
        state.set_reporting(True)
    return replay.result


class _Replay:
    """The replay loop: framing, CRC, decoding, continuity and `apply` in one frame per
    segment (the hot path of recovery: every call and attribute read here is per command).
    Anything unusual (a bad record, a mark) leaves the fast path for the general code."""

    def __init__(
        self,
        state: VenueState,
        reader: JournalReader,
        after_seq: int,
        to_seq: int | None,
        hash_at: frozenset[int],
        observe: Observer | None,
    ) -> None:
        self.state = state
        self.reader = reader
        self.after_seq = after_seq
        self.to_seq = to_seq if to_seq is not None else 1 << 62
        self.hash_at = hash_at
        self.observe = observe
        self.result = ReplayResult()
        self.replayed_hashes: dict[int, str] = {}
        self.finished = False

    def segment(self, scanner: SegmentScanner) -> None:
        data = scanner.data
        size = len(data)
        view = memoryview(data)
        unpack = HEADER.unpack_from
        crc_of = google_crc32c.value
        decode = command_decoder().decode
        run = apply
        state = self.state
        reader = self.reader
        expected = reader.expected
        after_seq = self.after_seq
        to_seq = self.to_seq
        hash_at = self.hash_at
        observe = self.observe
        progress_mask = PROGRESS_EVERY_RECORDS - 1
        replayed = 0
        pos = 0
        seq = 0
        # Nobody observes and no hash is asked for: runs of easy records go through the
        # compiled loop; whatever it leaves (marks, bad records, the end) comes here.
        cursor = Cursor(0, expected) if observe is None and not hash_at else None
        try:
            while pos < size:
                if cursor is not None:
                    started = pos
                    cursor.pos = pos
                    cursor.expected = expected
                    cursor.replayed = 0
                    try:
                        snapshot_events = replay_run(
                            data, cursor, state, after_seq, to_seq, PROGRESS_EVERY_RECORDS
                        )
                    finally:
                        replayed += cursor.replayed
                        pos = cursor.pos
                        expected = cursor.expected
                        seq = cursor.seq
                    if snapshot_events is not None:
                        self._snapshot_events(seq, snapshot_events)
                    if pos != started:
                        reader.report_progress(pos)
                        continue
                    if pos >= size:
                        break
                if size - pos < HEADER_SIZE:
                    scanner.bad(pos, "incomplete record header")
                    break
                length, crc = unpack(data, pos)
                start = pos + HEADER_SIZE
                end = start + length
                if length == 0 or length > RECORD_SIZE_MAX or end > size:
                    scanner.bad(pos, f"impossible record length {length} at {size - pos} bytes")
                    break
                payload = data[start:end]
                if crc_of(payload) != crc:
                    scanner.bad(pos, "CRC mismatch")
                    break
                if payload[0] != KIND_COMMAND_V1:
                    self._mark(scanner, pos, payload)
                    pos = end
                    continue
                try:
                    record = decode(view[start + 1 : end])
                except ValueError as exc:
                    raise CorruptJournalError(scanner.path, pos, f"undecodable: {exc}") from exc
                seq = record.seq
                if seq != expected:
                    raise CorruptJournalError(
                        scanner.path, pos, f"seq {seq} where seq {expected} was due"
                    )
                expected += 1
                pos = end
                if seq <= after_seq:
                    continue
                if seq > to_seq:
                    self.finished = True
                    break
                events = run(state, record)
                replayed += 1
                if type(record.command) is TakeSnapshot:
                    self._snapshot_events(seq, events)
                if observe is not None:
                    observe(record, events)
                if hash_at and seq in hash_at:
                    self.result.hashes[seq] = state.state_hash()
                if not seq & progress_mask:
                    reader.report_progress(pos)
        except JournalError:
            raise
        except Exception as exc:  # raised by apply: a bug in the core
            raise RecoveryError(
                f"{scanner.path}: offset {pos}: applying seq {seq} raised "
                f"{type(exc).__name__}: {exc} (a bug in the core)"
            ) from exc
        finally:
            reader.expected = expected
            reader.offset = pos
            self.result.replayed += replayed
        if scanner.torn is None and not self.finished:
            reader.report_progress(size)

    def _snapshot_events(self, seq: int, events: list[Event]) -> None:
        for event in events:
            if type(event) is SnapshotMarked:
                self.replayed_hashes[seq] = event.state_hash

    def _mark(self, scanner: SegmentScanner, pos: int, payload: bytes) -> None:
        try:
            record = decode_payload(payload)
        except RecordError as exc:
            raise CorruptJournalError(scanner.path, pos, str(exc)) from exc
        if not isinstance(record, SnapshotMark):
            raise CorruptJournalError(scanner.path, pos, "unexpected record kind")
        self.reader.offset = pos
        _check_mark(record, self.replayed_hashes, self.after_seq, self.reader)
        if record.seq > self.after_seq:
            self.result.marks_checked += 1


def _check_mark(
    mark: SnapshotMark, replayed: dict[int, str], after_seq: int, reader: JournalReader
) -> None:
    if mark.seq <= after_seq:
        return  # its TakeSnapshot is inside the base snapshot: nothing replayed to compare
    replayed_hash = replayed.pop(mark.seq, None)
    if replayed_hash is None:
        raise RecoveryError(
            f"{reader.path}: offset {reader.offset}: snapshot mark for seq {mark.seq}, "
            "but the command at that seq is not a TakeSnapshot"
        )
    if replayed_hash != mark.state_hash:
        raise HashMismatchError(
            f"{reader.path}: offset {reader.offset}: state hash at seq {mark.seq} is "
            f"{replayed_hash} on replay, but the journal recorded {mark.state_hash}: the core "
            "is not deterministic, or its code changed since the journal was written"
        )


# ----------------------------------------------------------------- read-only relatives


@dataclass
class ReplayReport:
    snapshot: SnapshotFile | None
    skipped: list[SkippedSnapshot]
    replayed: int
    marks_checked: int
    last_seq: int
    state_hash: str
    elapsed_s: float
    torn: TornTail | None


def replay(
    directory: Path,
    to_seq: int | None = None,
    progress: ProgressCallback | None = None,
    observe: Observer | None = None,
) -> tuple[VenueState, ReplayReport]:
    """The state at `to_seq` (default: the journal's end), from the newest usable snapshot at
    or below it. Read-only."""
    if not directory.is_dir():
        raise JournalError(f"{directory} is not a directory")
    started = perf_counter()
    store = SnapshotStore(directory)
    state, base, skipped = load_base(store, at_most_seq=to_seq)
    base_seq = base.seq if base is not None else 0
    reader = JournalReader(directory, progress)
    result = replay_into(state, reader, base_seq, to_seq=to_seq, observe=observe)
    if to_seq is not None and state.last_seq < to_seq:
        raise JournalError(f"the journal ends at seq {state.last_seq}, before seq {to_seq}")
    report = ReplayReport(
        snapshot=base,
        skipped=skipped,
        replayed=result.replayed,
        marks_checked=result.marks_checked,
        last_seq=state.last_seq,
        state_hash=state.state_hash(),
        elapsed_s=perf_counter() - started,
        torn=reader.torn,
    )
    return state, report


@dataclass
class VerifyReport:
    """What `verify` found. `first_seq`..`last_seq` are the seqs of the commands read (when
    `commands` is 0 there are none: `last_seq` is then the seq the state is at)."""

    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    segments: int = 0
    commands: int = 0
    marks: int = 0
    snapshots_ok: int = 0
    first_seq: int = 0
    last_seq: int = 0
    state_hash: str = ""

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(directory: Path, progress: ProgressCallback | None = None) -> VerifyReport:
    """Check every record (framing, CRC, decoding, seq continuity) and every snapshot (frame,
    CRC, rebuild, hash), then replay from the oldest usable base to the end, checking every
    snapshot mark and every snapshot file's hash on the way. Read-only."""
    report = VerifyReport()
    if not directory.is_dir():
        report.problems.append(f"{directory} is not a directory")
        return report
    reader = JournalReader(directory)
    report.segments = len(reader.segments)
    first = reader.first_seq()
    report.first_seq = first or 0
    try:
        for record in reader.records(after_seq=(first or 1) - 1):
            if type(record) is SequencedCommand:
                report.commands += 1
            else:
                report.marks += 1
    except JournalError as exc:
        report.problems.append(str(exc))
        report.last_seq = reader.last_seq  # the last good command
        return report
    report.last_seq = reader.end_seq
    if reader.torn is not None:
        report.notes.append(f"{reader.torn} (the next start truncates it)")
    store = SnapshotStore(directory)
    usable: list[SnapshotFile] = []
    for snapshot in store.list():
        try:
            load_snapshot_state(store, snapshot)
        except Exception as exc:  # report every unusable snapshot, whatever broke
            report.problems.append(f"snapshot {snapshot.path}: {exc}")
            continue
        usable.append(snapshot)
        if snapshot.seq > reader.end_seq:
            report.problems.append(
                f"snapshot {snapshot.path} is at seq {snapshot.seq}, beyond the journal's end"
            )
    report.snapshots_ok = len(usable)
    if report.problems:
        return report
    _verify_replay(directory, store, usable, first, report, progress)
    return report


def _verify_replay(
    directory: Path,
    store: SnapshotStore,
    usable: list[SnapshotFile],
    first: int | None,
    report: VerifyReport,
    progress: ProgressCallback | None,
) -> None:
    start = first or 1
    bases = [s for s in usable if s.seq + 1 >= start]
    if not bases and start == 1:
        state, base_seq = VenueState(), 0  # a journal without its genesis snapshot
        report.notes.append("no snapshot at seq 0: replayed from a default empty state")
    else:
        if not bases:
            report.problems.append(
                f"the journal starts at seq {first} and no usable snapshot covers the seqs "
                "before it: the state cannot be rebuilt"
            )
            return
        state, base_seq = load_snapshot_state(store, bases[0]), bases[0].seq
        if base_seq:
            report.notes.append(f"replayed from snapshot at seq {base_seq} (older ones pruned)")
    checks = {s.seq: s for s in usable if s.seq > base_seq}
    try:
        result = replay_into(
            state, JournalReader(directory, progress), base_seq, hash_at=frozenset(checks)
        )
    except JournalError as exc:
        report.problems.append(str(exc))
        return
    for seq, snapshot in checks.items():
        recorded = store.load(snapshot).state_hash
        if result.hashes.get(seq) != recorded:
            report.problems.append(
                f"snapshot {snapshot.path}: hash {recorded} but replay gives "
                f"{result.hashes.get(seq)} at seq {seq}"
            )
    report.notes.append(
        f"replayed {result.replayed:,} commands, {result.marks_checked} snapshot marks checked"
    )
    report.state_hash = state.state_hash()


@dataclass(frozen=True)
class InspectedRecord:
    segment: Path
    offset: int
    record: Record


def inspect(
    directory: Path, from_seq: int = 1, limit: int | None = None
) -> Iterator[InspectedRecord]:
    """Records from `from_seq` on (marks included), with where they are. Read-only."""
    reader = JournalReader(directory)
    first = reader.first_seq()
    if first is None:
        return
    after = max(from_seq, first) - 1
    shown = 0
    for record in reader.records(after_seq=after):
        if type(record) is SnapshotMark and record.seq <= after:
            continue
        if limit is not None and shown >= limit:
            return
        assert reader.path is not None
        yield InspectedRecord(reader.path, reader.offset, record)
        shown += 1
