"""Benchmarks: measurements printed as JSON, not tests (see benchmarks/README.md)."""
