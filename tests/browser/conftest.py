"""The browser tests: report.html opened in headless Chromium (Debian's `chromium`, which
`make test` installs: scripts/test.sh's "test packages" stage)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from headless import Chromium, find_chromium


@pytest.fixture(scope="session")
def chromium() -> Iterator[Chromium]:
    binary = find_chromium()
    if binary is None:
        pytest.fail("no chromium on PATH; fix: scripts/apt-install.sh chromium (make test does)")
    with Chromium(binary) as browser:
        yield browser
