"""Capacity per hop: the highest sustained webhook rate each hop of an environment carries, what
limits it (an account quota or a setting), its utilisation at 1x, 10x and 100x the design rate,
and the first hop to saturate with the increase that moves it.

    .venv/bin/python -m scripts.capacity --env prod [--rate 10000/min]

The model is constructs/app/capacity/ (the settings' rules use the same one at synth): quotas
with their defaults and Service Quotas codes, what one webhook uses of each hop (measured on the
local run's capture), and what it assumes (durations; printed below the table).
"""

from main import prepare_runtime

prepare_runtime()  # before `constructs` loads: jsii on the project's Node.js, not the machine's (maybe end-of-life)

from scripts.capacity.cli import main  # noqa: E402 - after prepare_runtime
from scripts.capacity.report import MULTIPLES, parse_rate, report  # noqa: E402

__all__ = ["MULTIPLES", "main", "parse_rate", "report"]
