"""`python -m scripts.packaging [--out DIR] [--force] [--no-layer-deps]`: build the Lambda zips."""

from scripts.packaging.zips import main

raise SystemExit(main())
