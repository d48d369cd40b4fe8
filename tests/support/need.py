"""Skipping a test for a missing tool, except in CI.

The test command (``scripts/test``, which ``.ci/run`` calls) installs Chromium, Node.js
and the npm packages the browser and single sign-on tests need; on a developer's machine
without them those tests are skipped. In CI (``CI`` set) a missing tool is a broken
install step, so the test fails instead of passing as skipped.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def missing(reason: str) -> NoReturn:
    """Skip the test for ``reason`` — or fail it when running in CI."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI must have it: scripts/test installs it)")
    pytest.skip(reason)
