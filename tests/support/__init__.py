"""Helpers shared by every test tier and by ``bench/`` (as Phoenix's ``test/support``).

- :mod:`tests.support.secret` — the token secret of every server the tests start;
- :mod:`tests.support.instance` — a server instance inside the test's event loop;
- :mod:`tests.support.launcher` — ``presence serve`` (or any server command that prints
  its port) as a real child process: start, port from stdout, signals, log file;
- :mod:`tests.support.rest` — admin REST calls (agents, teams, statuses, work);
- :mod:`tests.support.seeding` — agent profiles written straight into a store;
- :mod:`tests.support.tabs` — what an agent tab must receive next;
- :mod:`tests.support.aof` — a private Valkey that can be made to lose acknowledged writes;
- :mod:`tests.support.waiting` — bounded polling.

``tests`` is a package, so these import as ``tests.support.…`` from any tier, and from
``bench`` when it runs as ``python -m bench.run`` in the repository root.
"""
