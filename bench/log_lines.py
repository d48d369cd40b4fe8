"""CPU of one sign-in's and sign-out's log lines through ``presence serve``'s handler
(decision 77), in process: the logging calls the protocol libraries and our endpoint make
per socket, as they make them, through :func:`presence.logs.configure` at ``info`` (JSON
by default) to ``/dev/null`` (or ``--to FILE``).

``--lines``:

- ``main``: the lines before decision 77 — uvicorn's ``[accepted]``, websockets'
  ``connection open`` and ``connection closed`` on ``uvicorn.error``, ours ``agent
  connected`` / ``agent disconnected`` on ``presence.agent`` with their ``extra`` fields;
- ``off``, ``info``, ``debug-lines``: the same calls on the loggers of decision 77 with
  ``PRESENCE_LOG_CONNECTIONS`` at that value (the frames that ``debug`` adds are not
  made here);
- ``line``: one ``agent … connected`` line alone (the handler's cost per line).

Run ``.venv/bin/python -m bench.log_lines --lines main`` (a few seconds); with
``PYTHONPATH=<old worktree>/server`` to measure an older handler (``main``, ``line``).
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import time
from collections.abc import Callable

CLIENT, PATH = "10.1.2.3:51234", "/ws/agent"
AGENT, CONN, INSTANCE = "agent-00042", "9a0c310917f4ae7ea33286055e043fd7", "5f00e6ecab74"


def _main_lines() -> Callable[[], None]:
    error, agent = logging.getLogger("uvicorn.error"), logging.getLogger("presence.agent")

    def once() -> None:
        error.info('%s - "WebSocket %s" [accepted]', CLIENT, PATH)
        error.info("connection open")
        agent.info("agent connected", extra={"agent_id": AGENT, "connection_id": CONN,
                                              "instance_id": INSTANCE})
        agent.info("agent disconnected", extra={"agent_id": AGENT, "connection_id": CONN,
                                                 "reason": "signed_out", "code": 4010})
        error.info("connection closed")
    return once


def _new_lines() -> Callable[[], None]:
    from presence.logs import CONNECTIONS as ours
    from presence.logs import TRANSPORT as transport

    def once() -> None:
        transport.info('%s - "WebSocket %s" [accepted]', CLIENT, PATH)
        transport.info("connection open")
        if ours.isEnabledFor(logging.INFO):  # as server/presence/web/agent_ws.py
            ours.info("agent %s connected (connection %s from %s)", AGENT, CONN, CLIENT,
                      extra={"agent_id": AGENT, "connection_id": CONN,
                             "instance_id": INSTANCE, "client": CLIENT})
        if ours.isEnabledFor(logging.INFO):
            ours.info("agent %s disconnected (connection %s, code %s, %s)", AGENT, CONN,
                      4010, "signed_out", extra={"agent_id": AGENT, "connection_id": CONN,
                                                 "reason": "signed_out", "code": 4010})
        transport.info("connection closed")
    return once


def _one_line() -> Callable[[], None]:
    log = logging.getLogger("presence.connections")

    def once() -> None:
        log.info("agent %s connected (connection %s from %s)", AGENT, CONN, CLIENT,
                 extra={"agent_id": AGENT, "connection_id": CONN, "instance_id": INSTANCE,
                        "client": CLIENT})
    return once


def setup(lines: str, fmt: str, to: str) -> Callable[[], None]:
    from presence.logs import configure

    if lines in ("main", "line"):
        configure("info", fmt)
    else:
        configure("info", fmt, {"debug-lines": "debug"}.get(lines, lines))
    for name in ("uvicorn.error", "presence.agent"):
        logging.getLogger(name).setLevel(logging.INFO)  # as uvicorn.Config(log_level=info)
    if lines == "line":
        logging.getLogger("presence.connections").setLevel(logging.INFO)
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(open(to, "a"))  # noqa: SIM115 - for the process's life
    return {"main": _main_lines, "line": _one_line}.get(lines, _new_lines)()


def measure(once: Callable[[], None], n: int) -> float:
    """CPU µs per call of ``once``, over ``n`` calls."""
    started = time.process_time()
    for _ in range(n):
        once()
    return (time.process_time() - started) / n * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(prog="bench.log_lines")
    ap.add_argument("--lines", choices=["main", "off", "info", "debug-lines", "line"],
                    default="main")
    ap.add_argument("--format", choices=["json", "text"], default="json")
    ap.add_argument("--to", default=os.devnull, help="where the lines go (default /dev/null)")
    ap.add_argument("--n", type=int, default=20_000)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    once = setup(args.lines, args.format, args.to)
    measure(once, 1000)  # warm-up
    runs = [measure(once, args.n) for _ in range(args.runs)]
    print(f"{args.lines:11} {args.format}: µs per round (--lines) median "
          f"{statistics.median(runs):6.2f}  runs {' '.join(f'{r:.2f}' for r in runs)}")


if __name__ == "__main__":
    main()
