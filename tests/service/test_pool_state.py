"""The pool's scheduler state survives continue-as-new: a snapshot restores every lease, bench, block and
rung (pure; no Temporal)."""

from __future__ import annotations

from ai_worker.orchestration.error_policy import Decision, Move
from ai_worker.orchestration.ladder import build_ladder
from ai_worker.service.messages import PoolConfig, Ticket
from ai_worker.service.pool_state import UNCHECKED, PoolSnapshot, PoolState, view_of
from tests.fakes.settings import tiny_clip_settings


def make_state(now: list[float]) -> PoolState:
    ladder = [view_of(rung) for rung in build_ladder(tiny_clip_settings())]
    return PoolState(PoolSnapshot(PoolConfig(ladder, bench_seconds=30.0, max_failures=2)), lambda: now[0])


def test_new_servers_are_checked_before_any_job_and_one_lease_each() -> None:
    now = [100.0]
    state = make_state(now)
    state.add_servers(["http://a", "http://b"], slots=1)
    state.add_tickets("post-1", [Ticket(0, "t2v", 0), Ticket(1, "t2v", 0), Ticket(2, "i2v", 0)])
    scheduler = state.scheduler
    assert [s.name for s in scheduler.due_checks()] == ["http://a", "http://b"]
    assert all(scheduler.pick(s) is None for s in scheduler.servers)  # unchecked: no job yet
    for server in scheduler.servers:
        scheduler.checked(server, healthy=True)
    picked = []
    for server in scheduler.servers:
        job = scheduler.pick(server)
        assert job is not None
        scheduler.start(job, server)
        picked.append(job.index)
        assert scheduler.pick(server) is None  # one clip per server
    assert picked == [0, 1]


def test_a_snapshot_restores_leases_benches_blocks_and_rungs() -> None:
    now = [100.0]
    state = make_state(now)
    state.add_servers(["http://a", "http://b"], slots=1)
    state.add_tickets("post-1", [Ticket(0, "t2v", 0), Ticket(1, "t2v", 0)])
    state.add_tickets("post-2", [Ticket(0, "i2v", 1, resume_server="http://b")])
    scheduler = state.scheduler
    a, _ = scheduler.servers
    scheduler.checked(a, healthy=True)
    job = state.find("post-1", 0)
    assert job is not None
    scheduler.start(job, a)
    failed = state.find("post-1", 1)
    assert failed is not None
    scheduler.start(failed, a)
    scheduler.failed(failed, Decision(Move.NEXT_RUNG, "next", block="server", server_fault=True, bench_now=True),
                     "oom")
    restored = PoolState(state.snapshot(), lambda: now[0])
    assert restored.snapshot() == state.snapshot()
    again = restored.find("post-1", 0)
    assert again is not None and again.state == "running" and again.server is not None
    assert again.server.name == "http://a" and again.server.running == 1
    moved = restored.find("post-1", 1)
    assert moved is not None and moved.rung_pos == 1 and moved.state == "queued"
    ra, rb = restored.scheduler.servers
    assert restored.scheduler.benched(ra) and ra.blocked == a.blocked and rb.last_error == UNCHECKED
    resumed = restored.find("post-2", 0)
    assert resumed is not None and resumed.resume_server == "http://b" and resumed.post == 1


def test_a_withdrawn_post_frees_its_lease() -> None:
    now = [0.0]
    state = make_state(now)
    state.add_servers(["http://a"], slots=1)
    state.add_tickets("post-1", [Ticket(0, "t2v", 0)])
    state.add_tickets("post-2", [Ticket(0, "t2v", 0)])
    server = state.scheduler.servers[0]
    state.scheduler.checked(server, healthy=True)
    job = state.scheduler.pick(server)
    assert job is not None
    state.scheduler.start(job, server)
    state.withdraw("post-1")
    assert server.running == 0
    nxt = state.scheduler.pick(server)
    assert nxt is not None and state.owner[id(nxt)] == "post-2"


def test_dropping_a_job_twice_is_dropping_it_once() -> None:
    state = make_state([0.0])
    state.add_servers(["http://a"], slots=1)
    state.add_tickets("post-1", [Ticket(0, "t2v", 0)])
    job = state.find("post-1", 0)
    assert job is not None
    state.withdraw("post-1")
    state.drop(job)
    assert state.scheduler.jobs == []
