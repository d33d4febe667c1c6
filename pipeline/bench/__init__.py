"""Benchmarks: `python -m pipeline bench` measures training speed and writes performance.md."""
