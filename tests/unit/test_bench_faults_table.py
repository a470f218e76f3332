"""`bench.faults` prints its rows as a rich table: the same columns and figures, none folded."""

from __future__ import annotations

from typing import Any

import pytest

from bench.faults import COLUMNS, _print_unfolded, _table

ROW: dict[str, Any] = {
    "case": "outage", "requests": 192, "200": 80, "202": 112, "503": 0, "5xx": 0,
    "acked_ticks": 1920, "stored": 1920, "missing": 0, "duplicated": 0, "unacked_stored": 0,
    "p50_ms": 14, "p99_ms": 1187, "drain_s": 11.9, "injected": 2093, "retried": 0,
    "after_retry_missing": 0, "after_retry_duplicated": 0,
    "title": "DynamoDB unreachable for 10 s", "probes": {"503 unavailable": 9},
}  # fmt: skip


def test_the_table_has_every_column_and_figure_of_a_row():
    table = _table([ROW, {**ROW, "case": "crash", "drain_s": 0.4}])
    assert [column.header for column in table.columns] == [title for _, title in COLUMNS]
    assert [list(column.cells) for column in table.columns] == [
        [str(ROW[key]), "crash" if key == "case" else "0.4" if key == "drain_s" else str(ROW[key])]
        for key, _ in COLUMNS
    ]
    # the case name reads left to right, the figures line up on the right
    assert [column.justify for column in table.columns] == ["left"] + ["right"] * 17


def test_printed_on_a_narrow_console_no_header_or_figure_is_folded(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
):
    # GIVEN an 80-column console (18 columns do not fit: rich would fold the headers)
    monkeypatch.setenv("COLUMNS", "80")
    # WHEN the table is printed
    _print_unfolded(_table([ROW]))
    # THEN every header and every figure is whole on its line
    lines = capsys.readouterr().out.splitlines()
    for _, title in COLUMNS:
        assert any(title in line for line in lines), title
    (figures,) = [line for line in lines if "outage" in line]
    cells = [cell.strip() for cell in figures.strip("│┃ ").split("│")]
    assert cells == [str(ROW[key]) for key, _ in COLUMNS]
