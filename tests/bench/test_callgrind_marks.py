"""bench.callgrind_marks: phase marks that do nothing outside valgrind, and its reader."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import callgrind_marks


def test_marks_do_nothing_outside_valgrind() -> None:
    """Outside valgrind, zero() and dump() return without effect or error."""
    callgrind_marks.zero()
    callgrind_marks.dump("phase")
    assert (callgrind_marks._lib is None) == (callgrind_marks._missing is not None)


def test_instructions_reads_the_summary_line(tmp_path: Path) -> None:
    """instructions() returns the Ir total of a callgrind dump's summary line."""
    path = tmp_path / "callgrind.out.1"
    path.write_text("version: 1\ncreator: callgrind-3.19.0\nevents: Ir\nsummary: 1234567\n")
    assert callgrind_marks.instructions(path) == 1234567


def test_instructions_refuses_a_file_without_a_total(tmp_path: Path) -> None:
    """instructions() raises ValueError naming a file that has no summary or totals line."""
    path = tmp_path / "empty.out"
    path.write_text("events: Ir\n")
    with pytest.raises(ValueError, match="no summary line"):
        callgrind_marks.instructions(path)
