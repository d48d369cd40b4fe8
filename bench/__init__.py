"""Load and latency harness: ``python -m bench.run --full`` (see docs/benchmarks.md)."""
