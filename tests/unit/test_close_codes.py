"""The reconnect close codes have one source, ``presence.web.close_codes``: the Python
client uses that set itself, and the copies that cannot import it (the pages' ES module,
the protocol's close-code table) are compared with it here.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import presence.client
from presence.web.close_codes import RECONNECT, RECONNECT_CODES, CloseCode, should_reconnect

ROOT = Path(__file__).resolve().parents[2]
CLOSECODES_JS = ROOT / "static" / "js" / "closecodes.js"
PROTOCOL_MD = ROOT / "docs" / "protocol.md"


def js_reconnect_codes() -> set[int]:
    """The numbers in ``export const RECONNECT_CODES = new Set([...])``."""
    found = re.search(r"export const RECONNECT_CODES = new Set\(\[([^\]]*)\]\)",
                      CLOSECODES_JS.read_text())
    assert found is not None, "RECONNECT_CODES not found in static/js/closecodes.js"
    return {int(n) for n in re.findall(r"\d+", found.group(1))}


def js_stop_codes() -> set[int]:
    """The codes the pages describe when they stop (keys of ``STOPS``)."""
    found = re.search(r"const STOPS = \{(.*?)\n\};", CLOSECODES_JS.read_text(), re.S)
    assert found is not None, "STOPS not found in static/js/closecodes.js"
    return {int(n) for n in re.findall(r"^\s*(\d+):", found.group(1), re.M)}


def test_js_reconnect_codes_are_the_python_ones() -> None:
    """static/js/closecodes.js reconnects after exactly the codes of RECONNECT_CODES."""
    assert js_reconnect_codes() == set(RECONNECT_CODES)


def test_js_stops_are_close_codes_that_do_not_reconnect() -> None:
    """Every code the pages explain when they stop is a CloseCode that does not reconnect."""
    stops = js_stop_codes()
    assert stops, "no STOPS entries parsed"
    assert stops <= {int(c) for c in CloseCode}
    assert not stops & RECONNECT_CODES


def test_reconnect_codes_are_the_reconnect_table_plus_abnormal_closure() -> None:
    """RECONNECT_CODES is RECONNECT plus 1006, and should_reconnect answers from it."""
    assert set(RECONNECT_CODES) == {1006, *RECONNECT}
    assert all(should_reconnect(c) == (c in RECONNECT_CODES) for c in (*CloseCode, 1006))


def test_python_client_uses_the_server_set() -> None:
    """presence.client reconnects after the very set the server module defines."""
    assert presence.client.RECONNECT_CODES is RECONNECT_CODES


def test_protocol_table_marks_exactly_the_reconnect_codes() -> None:
    """docs/protocol.md's close-code table lists every code and says "yes" (reconnect)
    for exactly RECONNECT_CODES."""
    rows = re.findall(r"^\| (\d{4}) \|[^|]*\|[^|]*\| (yes|no)\b", PROTOCOL_MD.read_text(),
                      re.M)
    table = {int(code): answer == "yes" for code, answer in rows}
    assert set(table) == {int(c) for c in CloseCode} | {1006}
    assert {code for code, yes in table.items() if yes} == set(RECONNECT_CODES)


def test_client_library_imports_no_server_framework() -> None:
    """Importing presence.client loads neither starlette, uvicorn nor redis."""
    probe = ("import sys, presence.client; "
             "print(sorted(m for m in ('starlette', 'uvicorn', 'redis') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True, timeout=30)
    assert out.stdout.strip() == "[]"
