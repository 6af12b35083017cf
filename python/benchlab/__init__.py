"""benchlab: write-benchmark kit (load generation, sinks, audit, metrics, report)."""

__version__ = "0.1.0"
