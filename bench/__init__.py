"""Benchmarks: scripts that print figures (never asserted as timings in tests)."""
