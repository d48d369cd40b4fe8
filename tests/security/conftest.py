"""Fixtures for the security tests: real server instances in the test's loop (``launch``
and ``server`` of tests/conftest.py), and a count of the fuzz inputs sent.

Fuzz budget: ``PRESENCE_FUZZ_EXAMPLES`` (default 20) is the number of Hypothesis examples
each socket and REST fuzz test runs (an example is a batch: a few generated frames each
followed by 25 mutants, or 10–40 requests); the pure parser fuzz tests run 5× as many
examples and the validator fuzz tests 5× as many single inputs. The default sends about
40,000 inputs and keeps the whole folder well under a minute; for a long run::

    PRESENCE_FUZZ_EXAMPLES=2000 .venv/bin/pytest tests/security --timeout 0

The totals actually sent are printed at the end of the run ("fuzz inputs: ...").
"""

from __future__ import annotations

from typing import Any

from tests.security.security_rig import FUZZ_EXAMPLES, FUZZ_SENT


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if FUZZ_SENT:
        parts = ", ".join(f"{n} {kind}" for kind, n in sorted(FUZZ_SENT.items()))
        terminalreporter.write_line(
            f"fuzz inputs: {sum(FUZZ_SENT.values())} in total ({parts}); "
            f"PRESENCE_FUZZ_EXAMPLES={FUZZ_EXAMPLES}"
        )
