"""The capacity model of docs/scaling.md (`bench.capacity`) follows its formulas."""

from __future__ import annotations

from dataclasses import fields, replace
from typing import Any

import pytest

from bench.capacity import MEASURED, PRESETS, Costs, Rates, size, storm_plan
from bench.costs_derive import derive


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
    rates = Rates(tabs=100_000, changes_per_hour=24)
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
    """A long retention makes memory, not CPU, decide the number of masters (with a
    mass disconnect of 20,000 windows, which 3 masters take in time)."""
    plan = size(Rates(tabs=100_000, retention_days=35, master_memory=24e9,
                      storm_windows=20_000))
    assert plan["masters_decided_by"] == "memory"
    assert plan["masters"] == -(-int(plan["redis_memory_gb"] * 1e9) // int(24e9))


def _costs_run(servers: int, signin: float, change: float, spublish_us: float) -> dict[str, Any]:
    """A ``bench.costs`` result reduced to the figures the derivation reads."""
    phase = {"server_cpu_ms_per_op": signin, "server_rss_kib_per_op": 16.0,
             "redis_cpu_ms_per_op": 0.3, "redis_bytes_per_op": 5_900.0}
    changes = {"server_cpu_ms_per_op_net": change, "redis_cpu_ms_per_op_net": 0.25,
               "commands": {"spublish": {"usec_per_call": spublish_us}}}
    return {"sizes": {"servers": servers}, "results": {
        "profile": {"redis_bytes_per_op": 380.0}, "signin": phase, "changes": changes,
        "idle": {"server_cpu_ms_per_op": 0.009, "redis_cpu_ms_per_op": 0.001}}}


def test_remote_costs_are_the_many_process_excess_shared_by_the_other_processes() -> None:
    """With three processes, each of the two that do not hold an agent pays half of what
    the three cost beyond one process; the holder's costs are the one-process medians."""
    one = [_costs_run(1, 1.5, 0.8, 9.0), _costs_run(1, 1.7, 0.9, 9.0)]
    many = [_costs_run(3, 2.0, 1.3, 11.0), _costs_run(3, 2.2, 1.2, 12.0),
            _costs_run(3, 2.4, 1.4, 13.0)]
    k = derive(one, many)
    assert k["c_signin"] == pytest.approx(1.6)
    assert k["c_change"] == pytest.approx(0.85)
    assert k["c_remote_signin"] == pytest.approx((2.2 - 1.6) / 2)
    assert k["c_remote"] == pytest.approx((1.3 - 0.85) / 2)
    assert k["r_sub"] == pytest.approx((12.0 - 9.0) / 2 / 1000)
    assert k["rss_conn"] == pytest.approx(16.0 * 1024)
    assert k["m_agent"] == pytest.approx(6_280.0)
    assert set(k) <= {f.name for f in fields(Costs)}


def test_derivation_refuses_runs_of_mixed_or_single_process_counts() -> None:
    """Runs of different process counts, or no many-process run, give a clear error."""
    one = [_costs_run(1, 1.5, 0.8, 9.0)]
    with pytest.raises(ValueError, match="one process count above 1"):
        derive(one, [_costs_run(3, 2.0, 1.3, 11.0), _costs_run(2, 2.0, 1.3, 11.0)])
    with pytest.raises(ValueError, match="one process count above 1"):
        derive(one, one)


def test_one_valkey_constants_are_a_preset_beside_the_cluster_ones() -> None:
    """The one-Valkey preset sizes the same deployment with less server CPU than the
    cluster's constants, and the pre-evening preset with more memory per process."""
    rates = Rates(tabs=100_000)
    assert PRESETS["cluster"] is MEASURED
    assert size(rates, PRESETS["single"])["server_cores"] < size(rates)["server_cores"]
    assert size(rates, PRESETS["before-evening"])["process_rss_gb"] \
        > size(rates)["process_rss_gb"]


def test_a_grace_storm_needs_the_masters_whose_busiest_one_meets_the_target() -> None:
    """W = 50,000 windows at 0.1 ms of Redis CPU each, 1.5 s after a sweep period at half
    a core: 8 of 16 shards' masters (2 shards, 6,250 windows, on the busiest) are the
    fewest that fit, and they, not memory or CPU, decide the masters."""
    rates = Rates(tabs=100_000, storm_windows=50_000, storm_target=2.0, sweep_period=0.5,
                  shards=16, master_core_target=0.5, core_target=0.5, retention_days=1)
    plan = size(rates, replace(MEASURED, r_expiry=0.1, c_expiry=0.0))
    assert plan["storm_windows"] == 50_000
    assert plan["storm_masters_for_target"] == 8
    assert plan["masters"] == 8
    assert plan["masters_decided_by"] == "grace storm"
    assert plan["storm_seconds"] == pytest.approx(0.5 + 50_000 * 2 / 16 * 0.1 / 1000 / 0.5)
    assert plan["storm_decided_by"] == "busiest master"


def test_a_grace_storm_no_shard_count_can_spread_asks_for_more_shards() -> None:
    """With 4 shards even one shard per master is too slow for the target, and the
    sweeping process's CPU, not a master's, decides once it is the slower."""
    rates = Rates(tabs=100_000, shards=4, retention_days=1)
    plan = size(rates, replace(MEASURED, r_expiry=0.1, c_expiry=0.1))
    assert plan["storm_masters_for_target"] == "more than 4 shards allow"
    assert plan["masters"] == 4
    assert plan["storm_decided_by"] == "sweeping process"


def test_the_sweeping_processes_share_a_grace_storm_by_shards() -> None:
    """The sweeping term divides among the live processes but one, by their busiest
    share of the shards (decision 88): 4 processes, 3 sweeping 16 shards, the busiest
    6 of them; one process (P = 1 is never sized) would take all 16."""
    rates = Rates(tabs=100_000, storm_windows=50_000, shards=16, core_target=0.5,
                  retention_days=1)
    costs = replace(MEASURED, r_expiry=0.0, c_expiry=0.1)
    plan = size(rates, costs)
    sweepers = plan["storm_sweeping_processes"]
    assert sweepers == plan["processes"] - 1 >= 2
    share = -(-16 // sweepers) / 16
    assert plan["storm_seconds_sweeping_process"] == pytest.approx(
        50_000 * share * 0.1 / 1000 / 0.5, abs=0.01)
    assert plan["storm_decided_by"] == "sweeping process"
    alone = storm_plan(rates, costs, plan["masters"], sweepers=1)
    assert alone["storm_seconds_sweeping_process"] == pytest.approx(
        50_000 * 0.1 / 1000 / 0.5, abs=0.01)
