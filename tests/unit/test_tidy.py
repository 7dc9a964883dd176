"""The pure packages stay pure (DESIGN.md §3): no clocks, randomness, uuid, floats or asyncio.

A line may opt out with a trailing `# det-ok: <reason>`; the reason is required.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

PURE_PACKAGES = ("domain", "engine", "risk", "ledger", "core", "views")
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


def violations(path: Path, root: Path = SRC) -> list[str]:
    found = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if OPT_OUT.search(line):
            continue
        code = line.split("#", 1)[0]
        for what, pattern in BANNED.items():
            if pattern.search(code):
                found.append(f"{path.relative_to(root)}:{number}: {what}: {line.strip()}")
    return found


def test_pure_packages_exist() -> None:
    assert len(pure_sources()) >= 5


@pytest.mark.parametrize("path", pure_sources(), ids=lambda p: str(p.relative_to(SRC)))
def test_pure_module_uses_no_clock_randomness_float_or_asyncio(path: Path) -> None:
    assert violations(path) == []


def test_the_tidy_check_catches_each_banned_thing(tmp_path: Path) -> None:
    """The real check (`violations`) over a file with one offence per line, then the same
    offences opted out: each banned kind is reported on its line, and an opted-out line is
    not (a check whose opt-out always matched would fail the second half)."""
    offences = [
        "import time",
        "from random import choice",
        "import uuid",
        "x = float('1')",
        "import asyncio",
        "y = os.environ['A']",
        "z = datetime.now()",
    ]
    offender = tmp_path / "venue_offender.py"
    offender.write_text("\n".join(offences) + "\n")
    found = violations(offender, tmp_path)
    kinds = {line.split(": ")[1] for line in found}
    assert kinds == set(BANNED)
    assert {int(line.split(":")[1]) for line in found} == set(range(1, len(offences) + 1))

    excused = tmp_path / "venue_excused.py"
    excused.write_text(
        "\n".join(f"{line}  # det-ok: a reason" for line in offences)
        + "\nbare = float('2')  # det-ok:\n"  # an opt-out without a reason does not count
    )
    assert [line.split(":")[1] for line in violations(excused, tmp_path)] == [
        str(len(offences) + 1)
    ]
