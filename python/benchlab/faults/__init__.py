"""`benchlab faults run`: a fault matrix run under load (SPEC.md section 4, phase 3).

For each fault of the catalogue (catalogue.py) one bench.yml run loads the target the fault
concerns; when the run's progress line shows the load at --at seconds, the fault is injected
on the victim host with an ad-hoc ansible-runner call (inject.py, actions.py, timing.py).
Each run's results are then read back (analysis.py) and the matrix is written as one table
(report.py) in results/faults-<id>/faults.md and faults.json. matrix.py drives it all.
"""
