"""The prepared expiry's layout tag is the same in the Python that writes the record and
in the Lua that stamps and reads it (decision 64)."""

from __future__ import annotations

from presence.store.agents import PREPARED_LAYOUT
from presence.store.scripts import script_source


def test_the_lua_scripts_stamp_the_layout_python_writes() -> None:
    """commit_agent.lua and apply_expiries.lua carry PREP_LAYOUT equal to PREPARED_LAYOUT."""
    line = f"local PREP_LAYOUT = '{PREPARED_LAYOUT}'"
    assert line in script_source("commit_agent")
    assert line in script_source("apply_expiries")
