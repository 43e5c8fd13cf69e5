"""`python -m scripts.ops --env ENV COMMAND ...`: the ops CLI (scripts/ops/cli.py)."""

from scripts.ops.cli import main

raise SystemExit(main())
