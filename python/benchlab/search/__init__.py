"""The sustainable-throughput search (`benchlab search`, `bench.yml -e phase=search`).

For each target: fixed-rate open-loop trials (settings.py) on a geometric grid, then
bisection (plan.py); each trial is a `benchlab run` of that one target with a warm-up, judged
on its steady window (judge.py); the best rate is re-run; the conclusion, the crossover and
the plot come from the trials (conclusion.py, report.py). The lab stays up: no Ansible runs
between trials.
"""
