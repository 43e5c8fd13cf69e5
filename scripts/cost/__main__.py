"""`python -m scripts.cost [--env prod] [--calls FILE]` (cli.py)."""

from scripts.cost.cli import main

raise SystemExit(main())
