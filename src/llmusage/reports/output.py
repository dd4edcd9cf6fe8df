"""Writing a report: a rich table for people, CSV / JSON / Parquet / Markdown for everything else.

The machine formats are the same bytes whether stdout is a terminal, a pipe or a file: CSV and Parquet
hold the group rows only (a totals row would be summed twice by whoever loads them), JSON holds the rows,
the totals and the notes, Markdown and the table end with the totals row and the notes. CSV, JSON and
Parquet carry money as fixed-scale decimals and instants as ISO 8601 UTC (`machine.py`).
`--out PATH` writes the file aside and renames it into place; its directory must already exist.
"""

from __future__ import annotations

import io
import json
import os
import sys
from datetime import date, datetime
from pathlib import Path
from typing import IO

import polars as pl

from llmusage.errors import LlmusageError
from llmusage.lake.layout import aside_path
from llmusage.money import usd
from llmusage.reports.machine import machine_frame, machine_totals
from llmusage.reports.report import MONEY_COLUMNS, SHARE_COLUMNS, Report

FORMATS = ("table", "csv", "json", "parquet", "md")


def check_out_path(out: Path) -> Path:
    """The absolute path to write; a missing directory or a directory as target is a clear error."""
    path = Path(os.path.abspath(out.expanduser()))
    if path.is_dir():
        raise LlmusageError(f"--out {out} is a directory; give a file name")
    if not path.parent.is_dir():
        raise LlmusageError(f"--out {out}: directory {path.parent} does not exist")
    return path


def write_atomic(path: Path, data: bytes) -> None:
    aside = aside_path(path)
    try:
        aside.write_bytes(data)
        os.replace(aside, path)
    finally:
        aside.unlink(missing_ok=True)


def _cell(column: str, value: object) -> str:
    if value is None:
        return "-"
    if column in MONEY_COLUMNS and isinstance(value, int | float):
        return usd(value)
    if column in SHARE_COLUMNS and isinstance(value, int | float):
        return f"{value:.1%}"
    if isinstance(value, bool):
        return "yes" if value else ""
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M}"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list):
        return ", ".join(str(v.get("model", v)) if isinstance(v, dict) else str(v) for v in value[:3])
    return str(value)


def _display_rows(report: Report) -> tuple[list[str], list[list[str]], list[str] | None]:
    columns = report.frame.columns
    rows = [[_cell(c, v) for c, v in zip(columns, row, strict=True)] for row in report.frame.iter_rows()]
    totals = None
    if report.totals is not None:
        totals = [_cell(c, report.totals[c]) if c in report.totals else "" for c in columns]
        totals[0] = "TOTAL"
    return columns, rows, totals


def to_markdown(report: Report) -> str:
    columns, rows, totals = _display_rows(report)
    right = [c in MONEY_COLUMNS or c in SHARE_COLUMNS or report.frame[c].dtype.is_numeric() for c in columns]
    lines = [f"### {report.title}", ""]
    lines.append("| " + " | ".join(columns) + " |")
    lines.append("| " + " | ".join("---:" if r else "---" for r in right) + " |")
    for row in rows:
        lines.append("| " + " | ".join(v.replace("|", "\\|") for v in row) + " |")
    if totals:
        lines.append("| " + " | ".join(f"**{v}**" if v else "" for v in totals) + " |")
    lines.append("")
    lines.extend(f"_{note}_  " for note in report.notes)
    return "\n".join(lines).rstrip() + "\n"


def print_table(report: Report, stream: IO[str]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(file=stream, highlight=False, width=None if stream.isatty() else 200)
    columns, rows, totals = _display_rows(report)
    table = Table(title=report.title, show_footer=totals is not None)
    for i, c in enumerate(columns):
        numeric = c in MONEY_COLUMNS or c in SHARE_COLUMNS or report.frame[c].dtype.is_numeric()
        table.add_column(c, justify="right" if numeric else "left", footer=totals[i] if totals else "")
    for row in rows:
        table.add_row(*row)
    console.print(table)
    for note in report.notes:
        console.print(note, style="dim", markup=False)


def _jsonable(frame: pl.DataFrame) -> list[dict]:
    return json.loads(json.dumps(frame.to_dicts(), default=str))


def to_json(report: Report) -> str:
    body = {
        "report": report.name,
        "title": report.title,
        "notes": report.notes,
        "rows": _jsonable(machine_frame(report.frame)),
        "totals": machine_totals(report.totals),
    }
    return json.dumps(body, indent=2, default=str) + "\n"


def _flat(frame: pl.DataFrame) -> pl.DataFrame:
    """CSV has no lists or structs: those become JSON text."""
    nested = [c for c, t in frame.schema.items() if t.is_nested()]
    if not nested:
        return frame
    return frame.with_columns(
        pl.Series(c, [json.dumps(v, default=str) for v in frame[c].to_list()], pl.String) for c in nested
    )


def render(report: Report, fmt: str | None, out: Path | None = None, stdout: IO | None = None) -> str | None:
    """Write `report` in `fmt` (None: a table on a terminal, CSV otherwise) to `out` or stdout.

    Returns the message to show on stderr, if any (an empty report's "no spend in range")."""
    stdout = stdout or sys.stdout
    target = check_out_path(out) if out else None
    fmt = fmt or ("table" if target is None and stdout.isatty() else "csv")
    if fmt not in FORMATS:
        raise LlmusageError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if fmt == "parquet" and target is None and stdout.isatty():
        raise LlmusageError("--format parquet is binary: give --out FILE or redirect stdout")
    message = report.empty_message if report.empty else None
    if fmt in ("table", "md") and report.empty:
        text = f"{report.empty_message}\n" + "".join(f"{n}\n" for n in report.notes)
        data = text.encode()
        message = None
    elif fmt == "table":
        text_buffer = io.StringIO()
        if target is None:
            print_table(report, stdout)
            return message
        print_table(report, text_buffer)
        data = text_buffer.getvalue().encode()
    elif fmt == "md":
        data = to_markdown(report).encode()
    elif fmt == "json":
        data = to_json(report).encode()
    elif fmt == "csv":
        data = _flat(machine_frame(report.frame)).write_csv().encode()
    else:
        binary = io.BytesIO()
        machine_frame(report.frame, strings=False).write_parquet(binary, compression="zstd")
        data = binary.getvalue()
    if target is not None:
        write_atomic(target, data)
    elif fmt == "parquet":
        stdout.flush()
        getattr(stdout, "buffer", stdout).write(data)
    else:
        stdout.write(data.decode())
    return message
