"""The backend suite: HTTP backends (targets of the request/response kind) under scenarios
driven by vegeta at a constant arrival rate (open model), side by side per scenario.

- ``scenarios``: the scenario files (scenarios/<category>/<nn>-<name>.yml) and the request
  targets they expand to;
- ``vegeta``: the load tool's command lines and its outputs parsed;
- ``figures``: per-request results -> rate, latency from the schedule, late and dropped;
- ``config``: the run configuration backend.yml renders;
- ``run``: the orchestration (health, warm-up, measure, Prometheus, search);
- ``report``: report.md, backends side by side with ratios.
"""
