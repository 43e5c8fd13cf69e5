"""Tell the team in time when something the project pins nears or passed its end of support
(scripts/toolchain.json: every entry has its dates, a source and what to do).

    .venv/bin/python -m scripts.toolchain            # one warning line per entry past or within 90 days
    .venv/bin/python -m scripts.toolchain --all      # every entry: dates, status, successor, migration
    PAYMENTS_TODAY=2027-04-15 ... scripts.toolchain  # as if on another day (tests)

Warnings go to stderr and the exit code is always 0: a date must never break CI, only be seen.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

TOOLCHAIN = Path(__file__).resolve().parent / "toolchain.json"


@dataclass(frozen=True)
class Due:
    """One entry's dates that are past or within the warning window."""

    name: str
    dates: tuple[tuple[str, dt.date, int], ...]  # (what, day, days left; negative: past)
    action: str

    @property
    def nearest(self) -> int:
        return min(left for _, _, left in self.dates)

    def line(self) -> str:
        def when(left: int) -> str:
            return f"in {left} days" if left > 0 else ("today" if left == 0 else f"{-left} days ago")

        dates = ", ".join(f"{what} {day.isoformat()} ({when(left)})" for what, day, left in self.dates)
        return f"toolchain warning: {self.name} {dates}: {self.action}"


def load(path: Path = TOOLCHAIN) -> dict[str, Any]:
    """The toolchain notes, checked: every entry names itself, has at least one ISO date and an action."""
    data = json.loads(path.read_text())
    problems = []
    if not isinstance(data.get("warn_days"), int):
        problems.append("warn_days must be a number of days")
    for index, pin in enumerate(data.get("pins", [])):
        name = pin.get("name") or f"entry {index + 1}"
        ends = pin.get("ends")
        if not isinstance(ends, dict) or not ends:
            problems.append(f"{name}: no date in 'ends' (an entry without a date never warns)")
        else:
            for what, day in ends.items():
                try:
                    dt.date.fromisoformat(day)
                except (TypeError, ValueError):
                    problems.append(f"{name}: {what} must be a date YYYY-MM-DD, got {day!r}")
        if not pin.get("name") or not pin.get("action"):
            problems.append(f"{name}: needs a 'name' and an 'action'")
    if not data.get("pins"):
        problems.append("no entries in 'pins'")
    if problems:
        raise ValueError("; ".join(problems))
    return data


def due(data: Mapping[str, Any], today: dt.date) -> list[Due]:
    """Every entry with a date past or within warn_days of `today`, most overdue first."""
    found = []
    for pin in data["pins"]:
        dates = []
        for what, day in pin["ends"].items():
            end = dt.date.fromisoformat(day)
            left = (end - today).days
            if left <= data["warn_days"]:
                dates.append((what, end, left))
        if dates:
            found.append(Due(pin["name"], tuple(dates), pin["action"]))
    return sorted(found, key=lambda item: item.nearest)


def warning_lines(data: Mapping[str, Any], today: dt.date) -> list[str]:
    return [item.line() for item in due(data, today)]


def describe(data: Mapping[str, Any], today: dt.date) -> str:
    """Every entry in full (--all)."""
    blocks = []
    for pin in data["pins"]:
        dates = ", ".join(f"{what} {day} ({(dt.date.fromisoformat(day) - today).days:+d} days)"
                          for what, day in pin["ends"].items())
        lines = [f"{pin['name']}: {dates}", f"  pinned: {pin.get('pinned', '')}", f"  status: {pin.get('status', '')}",
                 f"  action: {pin['action']}"]
        if pin.get("migration"):
            lines.append(f"  migration: {pin['migration']}")
        lines.append(f"  source: {pin.get('source', '')}")
        blocks.append("\n".join(lines))
    return "\n".join(blocks)


def today_from(environ: Mapping[str, str]) -> dt.date:
    """The real date (UTC), or PAYMENTS_TODAY when a test sets it."""
    value = environ.get("PAYMENTS_TODAY")
    return dt.date.fromisoformat(value) if value else dt.datetime.now(dt.timezone.utc).date()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.toolchain",
                                     description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--all", action="store_true", help="print every entry: dates, status, action, migration, source")
    parser.add_argument("--file", type=Path, default=TOOLCHAIN, help=f"the notes to read (default: {TOOLCHAIN.name})")
    options = parser.parse_args(argv)
    try:
        data, today = load(options.file), today_from(os.environ)
        if options.all:
            print(describe(data, today))
        for line in warning_lines(data, today):
            print(line, file=sys.stderr)
    except Exception as error:  # noqa: BLE001 - never break the test command over the notes
        print(f"toolchain warning: cannot read {options.file.name}: {error}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
