"""Benchmarks (`make bench-*`): measured, printed, and recorded by hand in docs/benchmarks.md."""
