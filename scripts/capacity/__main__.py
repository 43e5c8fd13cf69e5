"""`python -m scripts.capacity [--env prod] [--rate 10000/min]` (cli.py)."""

from scripts.capacity.cli import main

raise SystemExit(main())
