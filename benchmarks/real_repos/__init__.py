"""Real-repository bug-fix cases: the case files, their verifier and the benchmark's helpers."""
