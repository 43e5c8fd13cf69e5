"""Benchmarks: each prints figures and asserts nothing about time (`python -m scripts.bench.<name>`)."""
