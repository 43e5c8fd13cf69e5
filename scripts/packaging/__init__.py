"""The deterministic Lambda zips (one per function, one layer) and their manifest: `build_all`."""

from scripts.packaging.zips import DEFAULT_OUT, build_all, deterministic_zip, functions

__all__ = ["DEFAULT_OUT", "build_all", "deterministic_zip", "functions"]
