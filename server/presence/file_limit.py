"""The process's limit on open files, raised as far as it may go at start.

Every socket is a file descriptor. Distributions start services with a soft limit of
1,024 and a much higher hard limit: an unprivileged process may raise its own soft
limit up to the hard one, and ``presence serve`` does so before it listens.
"""

from __future__ import annotations

import logging
import resource

log = logging.getLogger("presence")

#: Target when the hard limit is unlimited (the kernel refuses more than its
#: ``fs.nr_open``, 1,048,576 by default on Linux).
UNLIMITED_TARGET = 1_048_576


def raise_file_limit(max_pending_connections: int | None = None) -> int:
    """Raise the soft ``RLIMIT_NOFILE`` to the hard limit, log the result and return it.
    Warns when ``max_pending_connections`` would take most of it (the pending cap is
    then no protection: the limit is reached first)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = UNLIMITED_TARGET if hard == resource.RLIM_INFINITY else hard
    if soft == resource.RLIM_INFINITY or soft >= target:
        target = soft
    else:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError) as exc:
            log.warning("cannot raise the open-file limit from %d to %d: %s", soft, target, exc)
            target = soft
    log.info("open-file limit: %d", target)
    if max_pending_connections is not None and max_pending_connections > target // 2:
        log.warning("the open-file limit (%d) leaves little room beside the cap of %d "
                    "pending connections; raise the hard limit (ulimit -Hn, LimitNOFILE)",
                    target, max_pending_connections)
    return target
