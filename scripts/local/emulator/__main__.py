"""`python -m scripts.local.emulator start|stop|status|env|messages|serve` (process.py)."""

from scripts.local.emulator.process import main

raise SystemExit(main())
