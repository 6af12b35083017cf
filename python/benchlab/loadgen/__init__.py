"""Open-loop load generation: schedule, latency histograms, multi-process runner."""
