"""Benchmarks: ``python -m bench`` prints a table and writes ``docs/benchmarks.md``.

Figures that matter are ratios measured side by side in one run: these machines are shared and
noisy, so absolute times vary between runs while ratios hold.
"""
