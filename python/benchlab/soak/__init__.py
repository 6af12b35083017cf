"""The soak (`-e phase=soak`, `benchlab soak`): each target held for a long time at a share of
its sustainable rate; memory trend per limited service, latency drift and the leak rule.

settings.py (the run configuration's `soak` object), plan.py (each target's offered rate:
-e soak_rate, or a fraction of the newest complete search's sustainable rate), analysis.py
(pure: least-squares trends, windows, the rule), run.py (the runs), report.py (soak.md,
soak.png, soak.json).
"""
