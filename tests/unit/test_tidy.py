"""The pure packages stay pure (DESIGN.md §3): no clocks, randomness, uuid, floats or asyncio.

A line may opt out with a trailing `# det-ok: <reason>`; the reason is required.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

PURE_PACKAGES = ("domain", "engine", "risk", "ledger", "core")
SRC = Path(__file__).resolve().parents[2] / "src" / "venue"

BANNED = {
    "clock (time module)": re.compile(
        r"^\s*(import time\b|from time import)|\btime\.(time|monotonic|perf_counter)"
    ),
    "clock (datetime.now/utcnow/today)": re.compile(r"\b(datetime|date)\.(now|utcnow|today)\("),
    "randomness": re.compile(r"^\s*(import random\b|from random import)|\brandom\.|\bsecrets\."),
    "uuid": re.compile(r"^\s*(import uuid\b|from uuid import)|\buuid\d?\("),
    "float": re.compile(r"\bfloat\(|:\s*float\b|->\s*float\b"),
    "asyncio": re.compile(r"^\s*(import asyncio\b|from asyncio import)|\basyncio\."),
    "environment": re.compile(r"\bos\.environ|\bgetenv\("),
}
OPT_OUT = re.compile(r"#\s*det-ok:\s*\S")


def pure_sources() -> list[Path]:
    return sorted(
        path
        for package in PURE_PACKAGES
        if (SRC / package).is_dir()
        for path in (SRC / package).rglob("*.py")
    )


def violations(path: Path) -> list[str]:
    found = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if OPT_OUT.search(line):
            continue
        code = line.split("#", 1)[0]
        for what, pattern in BANNED.items():
            if pattern.search(code):
                found.append(f"{path.relative_to(SRC)}:{number}: {what}: {line.strip()}")
    return found


def test_pure_packages_exist() -> None:
    assert len(pure_sources()) >= 5


@pytest.mark.parametrize("path", pure_sources(), ids=lambda p: str(p.relative_to(SRC)))
def test_pure_module_uses_no_clock_randomness_float_or_asyncio(path: Path) -> None:
    assert violations(path) == []


def test_the_tidy_check_catches_each_banned_thing(tmp_path: Path) -> None:
    offender = tmp_path / "venue_offender.py"
    offender.write_text(
        "import time\nfrom random import choice\nimport uuid\nx = float('1')\n"
        "import asyncio\nimport os\ny = os.environ['A']\nz = datetime.now()\n"
        "ok = float('2')  # det-ok: parsing a config knob, never a price\n"
    )
    # relative_to(SRC) would fail for a temp file, so check patterns directly.
    lines = offender.read_text().splitlines()
    hits = {
        what
        for line in lines
        if not OPT_OUT.search(line)
        for what, p in BANNED.items()
        if p.search(line)
    }
    assert hits == set(BANNED)
    assert not any(p.search(lines[-1]) for p in BANNED.values()) or OPT_OUT.search(lines[-1])
