"""``python -m benchlab.calibration``: the ``benchlab calibrate`` commands without the rest of
the CLI (calibrate.yml, the calibration role and bench_run.yml run it this way)."""

import sys

from .cli import main

sys.exit(main())
