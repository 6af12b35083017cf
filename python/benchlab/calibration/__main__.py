"""``python -m benchlab.calibration``: the calibrate commands until benchlab/cli.py wires them."""

import sys

from .cli import main

sys.exit(main())
