"""The live server's OpenAPI document checked by tools nobody here wrote:
``openapi-spec-validator`` (the document is valid OpenAPI 3.1) and a bounded
Schemathesis run (every check, a fixed number of examples per operation) as admin,
supervisor and agent (decision 52)."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import httpx
import pytest
from openapi_spec_validator import validate

from tests.support.instance import Instance

#: Test cases per operation and phase: bounded so that the three runs stay well under
#: a minute and a half on a shared machine.
EXAMPLES = 4
ST = Path(sys.executable).with_name("st")
#: Where a schema-valid request may still be refused 422 (see the file).
CONFIG = Path(__file__).with_name("schemathesis.toml")


async def test_openapi_document_is_valid_openapi(server: Instance) -> None:
    """openapi-spec-validator finds nothing wrong in the live /openapi.json."""
    async with httpx.AsyncClient(base_url=server.http, timeout=10) as http:
        doc = (await http.get("/openapi.json")).json()
    validate(doc)


async def schemathesis(server: Instance, token: str, tmp: Path) -> tuple[int, str]:
    """Run the Schemathesis CLI against ``server`` with ``token``; (exit code, output)."""
    proc = await asyncio.create_subprocess_exec(
        str(ST), "--config-file", str(CONFIG), "run", f"{server.http}/openapi.json",
        "--checks", "all",
        "--max-examples", str(EXAMPLES), "--seed", "52", "--generation-deterministic",
        "--phases", "examples,coverage,fuzzing", "--workers", "1", "--no-color",
        "--report-dir", str(tmp),
        "--request-timeout", "10",
        env={**os.environ, "PRESENCE_SCHEMATHESIS_TOKEN": token},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, cwd=tmp)
    async with asyncio.timeout(150):
        out, _ = await proc.communicate()
    return proc.returncode or 0, out.decode(errors="replace")


@pytest.mark.timeout(200)
@pytest.mark.parametrize("role", ["admin", "supervisor", "agent"])
async def test_schemathesis_finds_nothing(server: Instance, role: str,
                                          tmp_path: Path) -> None:
    """Schemathesis with every check finds no failure as admin, supervisor or agent."""
    code, out = await schemathesis(server, server.token(role, f"st-{role}"), tmp_path)
    assert code == 0, out[-20_000:]
    if role == "admin":  # the token was used (the others are refused admin's operations)
        assert "Authentication failed" not in out, out[-20_000:]
