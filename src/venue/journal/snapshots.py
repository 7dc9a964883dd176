"""Snapshot files: the whole state at a seq, with its state hash, written atomically.

A snapshot file is one record in the journal's framing (`[length u32][crc32c u32][payload]`),
payload = kind byte `SNAPSHOT_KIND_V1` + msgpack `[seq, state_hash, state]`, where `state` is
`VenueState.snapshot()`, opaque here.

Invariants:
- Written to `<name>.tmp`, fsynced, closed, renamed over its final name, then the directory
  is fsynced: a snapshot file under its final name is always complete; a crash leaves at most
  a `.tmp`, which recovery removes.
- A snapshot is only ever saved for a seq the journal already holds durably (the runtime
  hands it over after the fsync that covers its `TakeSnapshot`), so the journal always
  reaches at least as far as the newest snapshot.
- After a save, the newest `snapshots_keep` snapshots stay; older ones are removed, then the
  segments wholly below the oldest kept snapshot are deleted or archived (per config). The
  segment still being written is never touched: only a segment followed by another one whose
  first seq is at most `oldest kept seq + 1` goes.
- `load` checks the frame, the CRC, the recorded seq (against the file name) and decodes; it
  does not rebuild the state (recovery does, and checks the hash).
"""

from __future__ import annotations

import itertools
import logging
from pathlib import Path

import msgspec

from venue.journal.codec import HEADER, HEADER_SIZE, crc32c
from venue.journal.config import JournalConfig, SegmentRetention
from venue.journal.fileops import FileOps, OsFileOps
from venue.journal.layout import (
    ARCHIVE_DIRNAME,
    TMP_SUFFIX,
    SnapshotFile,
    list_segments,
    list_snapshots,
    snapshot_path,
)

log = logging.getLogger(__name__)

SNAPSHOT_KIND_V1 = 1


class SnapshotImage(msgspec.Struct, frozen=True, array_like=True):
    seq: int
    state_hash: str
    state: bytes


class SnapshotError(ValueError):
    """A snapshot file that cannot be used: the message names the file and the problem."""


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(SnapshotImage)


def encode_snapshot(seq: int, state_hash: str, state: bytes) -> bytes:
    payload = bytes([SNAPSHOT_KIND_V1]) + _encoder.encode(SnapshotImage(seq, state_hash, state))
    return HEADER.pack(len(payload), crc32c(payload)) + payload


def decode_snapshot(path: Path, data: bytes) -> SnapshotImage:
    if len(data) < HEADER_SIZE:
        raise SnapshotError(f"{path}: {len(data)} bytes, shorter than a header")
    length, crc = HEADER.unpack_from(data, 0)
    if HEADER_SIZE + length != len(data):
        raise SnapshotError(f"{path}: header says {length} bytes, file has {len(data) - 8}")
    payload = data[HEADER_SIZE:]
    if crc32c(payload) != crc:
        raise SnapshotError(f"{path}: CRC mismatch")
    if payload[0] != SNAPSHOT_KIND_V1:
        raise SnapshotError(f"{path}: unknown snapshot kind/version {payload[0]}")
    try:
        return _decoder.decode(memoryview(payload)[1:])
    except msgspec.DecodeError as exc:
        raise SnapshotError(f"{path}: does not decode: {exc}") from exc


class SnapshotStore:
    """Saves, lists, loads and prunes the snapshots of one journal directory."""

    def __init__(
        self,
        directory: Path,
        config: JournalConfig | None = None,
        fileops: FileOps | None = None,
    ) -> None:
        self.directory = directory
        self.config = config or JournalConfig()
        self.fileops: FileOps = fileops or OsFileOps()

    def list(self) -> list[SnapshotFile]:
        return list_snapshots(self.directory)

    def load(self, snapshot: SnapshotFile) -> SnapshotImage:
        image = decode_snapshot(snapshot.path, snapshot.path.read_bytes())
        if image.seq != snapshot.seq:
            raise SnapshotError(f"{snapshot.path}: holds seq {image.seq}, its name says otherwise")
        return image

    def save(self, seq: int, state_hash: str, state: bytes) -> Path:
        """Write a snapshot durably (tmp, fsync, rename, fsync dir), then prune."""
        data = encode_snapshot(seq, state_hash, state)
        if len(data) - HEADER_SIZE > self.config.snapshot_size_max_bytes:
            raise SnapshotError(f"snapshot at seq {seq} is {len(data)} bytes, over the limit")
        final = snapshot_path(self.directory, seq)
        temporary = final.with_name(final.name + TMP_SUFFIX)
        ops = self.fileops
        fd = ops.open_write_new(temporary)
        try:
            ops.write_all(fd, data)
            ops.fsync(fd)
        except BaseException:
            ops.close(fd)
            temporary.unlink(missing_ok=True)
            raise
        ops.close(fd)
        ops.rename(temporary, final)
        ops.fsync_dir(self.directory)
        self.prune()
        return final

    def prune(self) -> None:
        """Keep the newest `snapshots_keep` snapshots; retire segments below the oldest kept."""
        snapshots = self.list()
        keep = self.config.snapshots_keep
        for old in snapshots[:-keep]:
            self.fileops.remove(old.path)
            log.info("removed old snapshot %s", old.path.name)
        kept = snapshots[-keep:]
        if not kept or self.config.segment_retention == SegmentRetention.KEEP:
            return
        oldest_kept_seq = kept[0].seq
        segments = list_segments(self.directory)
        retired = [
            segment
            for segment, following in itertools.pairwise(segments)
            if following.first_seq <= oldest_kept_seq + 1
        ]
        if not retired:
            return
        if self.config.segment_retention == SegmentRetention.ARCHIVE:
            archive = self.directory / ARCHIVE_DIRNAME
            archive.mkdir(exist_ok=True)
            for segment in retired:
                self.fileops.rename(segment.path, archive / segment.path.name)
            self.fileops.fsync_dir(archive)
        else:
            for segment in retired:
                self.fileops.remove(segment.path)
        self.fileops.fsync_dir(self.directory)
        log.info(
            "%s %d segment(s) below snapshot seq %d",
            self.config.segment_retention.value,
            len(retired),
            oldest_kept_seq,
        )
