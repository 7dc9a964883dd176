"""One test per scenario table (`*.scn` beside this file); scenario_dsl.py describes the format.

A table headed `# xfail: <reason>` documents a known engine bug: it is expected to fail with a
mismatch (strictly: once the engine is fixed the test fails until the marker is removed). A
malformed table is never excused by the marker.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from scenario_dsl import ScenarioMismatchError, read_header, run_scenario_file

HERE = Path(__file__).resolve().parent
SCENARIOS = sorted(HERE.glob("*.scn"))


def _params() -> list[object]:
    params: list[object] = []
    for path in SCENARIOS:
        _, xfail = read_header(path.read_text())
        marks = (
            [pytest.mark.xfail(strict=True, reason=xfail, raises=ScenarioMismatchError)]
            if xfail
            else []
        )
        params.append(pytest.param(path, id=path.name, marks=marks))
    return params


def test_every_scenario_says_what_it_is_about() -> None:
    assert len(SCENARIOS) >= 40
    untitled = [path.name for path in SCENARIOS if not read_header(path.read_text())[0]]
    assert untitled == []


@pytest.mark.parametrize("path", _params())
def test_scenario(path: Path) -> None:
    run_scenario_file(path)
