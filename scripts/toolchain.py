#!/usr/bin/env python
"""Tell the team in time when a pinned runtime nears its end of support (scripts/toolchain.json).

    .venv/bin/python scripts/toolchain.py            # one warning line if a date is within 90 days
    .venv/bin/python scripts/toolchain.py --all      # every pin, its dates and status
    PAYMENTS_TODAY=2027-04-15 ... toolchain.py       # as if on another day (tests)

It prints at most one line and always exits 0: a date must never break CI, only be seen.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from pathlib import Path

TOOLCHAIN = Path(__file__).resolve().parent / "toolchain.json"


def load(path: Path = TOOLCHAIN) -> dict:
    return json.loads(path.read_text())


def due(data: dict, today: dt.date) -> list[tuple[int, str]]:
    """(days left, text) for every date within warn_days (past dates included), nearest first."""
    found = []
    for pin in data["pins"]:
        for what, day in pin.get("ends", {}).items():
            left = (dt.date.fromisoformat(day) - today).days
            if left <= data["warn_days"]:
                when = f"in {left} days" if left > 0 else ("today" if left == 0 else f"{-left} days ago")
                found.append((left, f"{pin['name']} {what} {day} ({when})"))
    return sorted(found)


def warning_line(data: dict, today: dt.date) -> str:
    items = due(data, today)
    if not items:
        return ""
    return "toolchain warning: " + "; ".join(text for _, text in items) + " (README: Toolchain support)"


def today_from(environ) -> dt.date:
    value = environ.get("PAYMENTS_TODAY")
    return dt.date.fromisoformat(value) if value else dt.datetime.now(dt.timezone.utc).date()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--all", action="store_true", help="list every pin with its dates and status")
    options = parser.parse_args(argv)
    try:
        data, today = load(), today_from(os.environ)
    except (OSError, ValueError, KeyError) as error:  # never break the test command over this
        print(f"toolchain warning: cannot read {TOOLCHAIN.name}: {error}", file=sys.stderr)
        return 0
    if options.all:
        for pin in data["pins"]:
            dates = ", ".join(f"{k} {v}" for k, v in pin.get("ends", {}).items()) or pin.get("status", "")
            print(f"{pin['name']}: {dates}")
    line = warning_line(data, today)
    if line:
        print(line, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
