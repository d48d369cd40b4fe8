"""The capacity model of docs/scaling.md (`bench.capacity`) follows its formulas."""

from __future__ import annotations

from dataclasses import replace

from bench.capacity import MEASURED, Rates, size


def test_small_deployment_needs_two_processes_for_availability() -> None:
    """10,000 tabs fit two processes, whose count is set by availability, not CPU."""
    plan = size(Rates(tabs=10_000))
    assert plan["feasible"] is True
    assert plan["processes"] == 2
    assert plan["processes_decided_by"] == "two for availability"
    assert plan["server_cores"] < 1


def test_redis_memory_is_history_entries_times_entry_size_plus_agents_and_streams() -> None:
    """Redis memory is A·(m_agent + E·m_entry) + N·L·m_event, E = (γ·H + 2)·D."""
    rates = Rates(tabs=1_000, changes_per_hour=10, shift_hours=8, retention_days=10,
                  shards=2, events_maxlen=100)
    entries = (10 * 8 + 2) * 10
    expected = 1_000 * (MEASURED.m_agent + entries * MEASURED.m_entry) \
        + 2 * 100 * MEASURED.m_event
    plan = size(rates)
    assert plan["history_entries_per_agent"] == entries
    assert plan["redis_memory_gb"] == round(expected / 1e9, 1)


def test_costlier_changes_need_more_processes() -> None:
    """Doubling the CPU of a change raises the processes a CPU-bound size needs."""
    rates = Rates(tabs=100_000)
    base = size(rates)
    costlier = size(rates, replace(MEASURED, c_change=MEASURED.c_change * 2))
    assert base["processes_decided_by"] == "CPU"
    assert costlier["processes"] > base["processes"]


def test_fan_in_above_a_process_budget_makes_a_size_infeasible() -> None:
    """When reading every other process's events takes more than a process's budget,
    no number of processes fits; with that cost removed the same size fits."""
    rates = Rates(tabs=1_000_000)
    assert size(rates)["feasible"] is False
    filtered = size(rates, replace(MEASURED, c_remote=0.0, c_remote_signin=0.0))
    assert filtered["feasible"] is True
    assert filtered["of_which_remote_events"] == 0


def test_masters_follow_memory_when_history_dominates() -> None:
    """A long retention makes memory, not CPU, decide the number of masters."""
    plan = size(Rates(tabs=100_000, retention_days=35, master_memory=24e9))
    assert plan["masters_decided_by"] == "memory"
    assert plan["masters"] == -(-int(plan["redis_memory_gb"] * 1e9) // int(24e9))
