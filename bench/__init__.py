"""Load and scaling benchmarks: Parley beside a baseline app (see docs/performance.md)."""
