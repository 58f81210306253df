"""Benchmark harness (to be written)."""
