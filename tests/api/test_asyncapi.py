"""The live server's AsyncAPI document checked by the official AsyncAPI parser
(``@asyncapi/parser`` through tests/asyncapi/validate.mjs; decision 55)."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import httpx

from tests.support.instance import Instance
from tests.support.need import missing

VALIDATOR = Path(__file__).resolve().parents[1] / "asyncapi"


async def validate(document: Path) -> tuple[int, str]:
    """Run the AsyncAPI parser on ``document``; (exit code, output)."""
    node = shutil.which("node")
    if node is None:
        missing("node is not installed")
    if not (VALIDATOR / "node_modules" / "@asyncapi" / "parser").is_dir():
        missing("@asyncapi/parser is not installed (npm ci --prefix tests/asyncapi)")
    proc = await asyncio.create_subprocess_exec(
        node, str(VALIDATOR / "validate.mjs"), str(document),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    async with asyncio.timeout(60):
        out, _ = await proc.communicate()
    return proc.returncode or 0, out.decode(errors="replace")


async def test_asyncapi_document_is_valid_asyncapi(server: Instance, tmp_path: Path) -> None:
    """The AsyncAPI parser finds no error in the live, unauthenticated /asyncapi.json."""
    async with httpx.AsyncClient(base_url=server.http, timeout=10) as http:
        r = await http.get("/asyncapi.json")
    assert r.status_code == 200
    doc = r.json()
    assert doc["asyncapi"] == "3.0.0"
    assert {c["address"] for c in doc["channels"].values()} == {"/ws/agent", "/ws/supervisor"}
    path = tmp_path / "asyncapi.json"
    path.write_text(json.dumps(doc))
    code, out = await validate(path)
    assert code == 0, out
    assert "valid AsyncAPI 3.0.0: 2 channels" in out, out


async def test_the_validator_refuses_a_broken_document(server: Instance,
                                                       tmp_path: Path) -> None:
    """The validator exits non-zero on a document with a dangling message reference."""
    async with httpx.AsyncClient(base_url=server.http, timeout=10) as http:
        doc = (await http.get("/asyncapi.json")).json()
    doc["operations"]["agentEvents"]["messages"].append(
        {"$ref": "#/channels/agent/messages/no_such_message"})
    path = tmp_path / "asyncapi.json"
    path.write_text(json.dumps(doc))
    code, out = await validate(path)
    assert code == 1, out
    assert "no_such_message" in out, out
