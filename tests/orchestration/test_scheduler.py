"""The pure scheduler: order, checkpoint gate, slots, affinity, blocking, benching; time from a fake clock."""

from __future__ import annotations

from ai_worker.core.errors import (
    ComfyUIConnectionError,
    ComfyUIExecutionError,
    ComfyUINotSubmittedError,
    ComfyUIPermanentExecutionError,
    ComfyUIValidationError,
    FFmpegNotFoundError,
    PromptLostError,
    WorkflowError,
)
from ai_worker.orchestration.error_policy import Move, decide
from ai_worker.orchestration.ladder import build_ladder
from ai_worker.orchestration.scheduler import Job, Scheduler
from tests.fakes.settings import tiny_clip_settings


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def make(jobs: int = 3, *, bench: float = 30.0, max_failures: int = 3, posts: int = 1) -> tuple[Scheduler, FakeClock]:
    clock = FakeClock()
    scheduler = Scheduler(build_ladder(tiny_clip_settings()), bench_seconds=bench, max_failures=max_failures,
                          clock=clock)
    for post in range(posts):
        for index in range(jobs):
            scheduler.add_job(Job(post=post, index=index, mode="t2v"))
    return scheduler, clock


def fail(scheduler: Scheduler, job: Job, exc: Exception) -> None:
    scheduler.failed(job, decide(exc, resumed=False, same_rung_retries=job.same_rung_retries), str(exc))


def test_breadth_first_across_posts_and_two_slots_per_server() -> None:
    scheduler, _ = make(2, posts=2)
    server = scheduler.add_server("a", slots=2)
    first = scheduler.pick(server)
    assert first is not None and (first.post, first.index) == (0, 0)
    scheduler.start(first, server)
    second = scheduler.pick(server)
    assert second is not None and (second.post, second.index) == (0, 1)
    scheduler.start(second, server)
    assert scheduler.pick(server) is None  # one running plus one queued, never more
    fail(scheduler, first, ComfyUIExecutionError("x"))  # back to the queue at rung 2
    third = scheduler.pick(server)
    assert third is not None and (third.post, third.index, third.rung_pos) == (1, 0, 0)  # rung 1 work first


def test_distilled_waits_for_full_work_on_one_server_one_switch() -> None:
    scheduler, _ = make(2)
    server = scheduler.add_server("a", slots=2)
    a, b = scheduler.jobs
    a.rung_pos = 3  # distilled
    scheduler.start(job := scheduler.pick(server) or a, server)
    assert job is b  # the full-model job first
    assert scheduler.pick(server) is None  # distilled is not queued behind full work on the same server
    scheduler.succeeded(b)
    assert scheduler.pick(server) is a
    scheduler.start(a, server)
    assert server.switches == 1


def test_an_idle_server_takes_distilled_work_while_full_runs_elsewhere_and_affinity() -> None:
    scheduler, _ = make(2)
    one, two = scheduler.add_server("a"), scheduler.add_server("b")
    full, distilled = scheduler.jobs
    distilled.rung_pos = 3
    scheduler.start(scheduler.pick(one) or full, one)
    assert scheduler.pick(two) is distilled
    scheduler.start(distilled, two)
    # A full-model retry prefers the server that still holds the full model.
    fail(scheduler, full, ComfyUIExecutionError("x"))
    scheduler.succeeded(distilled)
    assert scheduler.pick(two) is None and scheduler.pick(one) is full


def test_validation_blocks_the_kind_on_that_server_only() -> None:
    scheduler, _ = make(1)
    one, two = scheduler.add_server("a"), scheduler.add_server("b")
    job = scheduler.jobs[0]
    scheduler.start(job, one)
    fail(scheduler, job, ComfyUIValidationError("missing node"))
    assert job.rung_pos == 0 and job.state == "queued"
    assert scheduler.pick(one) is None and scheduler.pick(two) is job


def test_a_kind_blocked_everywhere_moves_on_to_another_kind_or_fails() -> None:
    scheduler, _ = make(1)
    server = scheduler.add_server("a")
    job = scheduler.jobs[0]
    scheduler.start(job, server)
    fail(scheduler, job, ComfyUIPermanentExecutionError("loader: bad header"))
    assert scheduler.settle() == [] and job.rung_pos == 3  # the distilled rung: another kind
    scheduler.start(job, server)
    fail(scheduler, job, WorkflowError("no such input"))
    ended = scheduler.settle()
    assert [(e.job, e.kind) for e in ended] == [(job, "fatal")]


def test_not_submitted_moves_the_job_without_using_a_rung_and_benches_the_server() -> None:
    scheduler, clock = make(1, bench=30.0)
    one, two = scheduler.add_server("a"), scheduler.add_server("b")
    job = scheduler.jobs[0]
    scheduler.start(job, one)
    fail(scheduler, job, ComfyUINotSubmittedError("connect refused"))
    assert (job.rung_pos, job.same_rung_retries, job.state) == (0, 0, "queued")
    assert scheduler.benched(one) and scheduler.pick(one) is None
    assert scheduler.pick(two) is job
    # Re-checked after COMFYUI_BENCH_SECONDS, not dropped for the post.
    assert scheduler.due_checks() == []
    clock.now += 30.0
    assert scheduler.due_checks() == [one]
    scheduler.checked(one, healthy=True)
    assert not scheduler.benched(one)


def test_every_server_benched_jobs_wait_for_the_recheck_and_a_blip_costs_nothing() -> None:
    scheduler, clock = make(2, bench=30.0)
    server = scheduler.add_server("a")
    job = scheduler.jobs[0]
    scheduler.start(job, server)
    fail(scheduler, job, ComfyUINotSubmittedError("connect refused"))
    assert scheduler.settle() == []  # nothing ends while the only server is benched: wait for its re-check
    clock.now += 29.0
    assert scheduler.settle() == [] and scheduler.due_checks() == []
    clock.now += 1.0
    assert scheduler.due_checks() == [server]
    server.checking = True
    scheduler.checked(server, healthy=True)  # the blip is over
    assert scheduler.settle() == []
    assert scheduler.pick(server) is job and job.rung_pos == 0


def test_every_server_benched_ends_queued_work_as_unavailable_after_the_recheck_budget() -> None:
    scheduler = Scheduler(build_ladder(tiny_clip_settings()), bench_seconds=30.0, max_failures=3,
                          clock=FakeClock(), wait_rechecks=2)
    for index in range(2):
        scheduler.add_job(Job(post=0, index=index, mode="t2v"))
    one, two = scheduler.add_server("a"), scheduler.add_server("b")
    scheduler.bench(one, "down")
    scheduler.bench(two, "down")
    for server in (one, two, one):  # three failed re-checks: b is still within its budget
        server.checking = True
        scheduler.checked(server, healthy=False)
        assert scheduler.settle() == []
    two.checking = True
    assert scheduler.settle() == []  # a re-check under way is waited for
    scheduler.checked(two, healthy=False)
    ended = scheduler.settle()
    assert [(e.job.index, e.kind) for e in ended] == [(0, "unavailable"), (1, "unavailable")]
    assert "a: down" in ended[0].reason and all(j.rung_pos == 0 for j in scheduler.jobs)
    assert not scheduler.outstanding()


def test_a_server_benched_again_gets_a_new_recheck_budget() -> None:
    scheduler = Scheduler(build_ladder(tiny_clip_settings()), bench_seconds=0.0, max_failures=1,
                          clock=FakeClock(), wait_rechecks=1)
    scheduler.add_job(Job(post=0, index=0, mode="t2v"))
    server = scheduler.add_server("a")
    scheduler.bench(server, "down")
    server.checking = True
    scheduler.checked(server, healthy=True)
    scheduler.bench(server, "down again")
    assert scheduler.settle() == []
    server.checking = True
    scheduler.checked(server, healthy=False)
    assert [e.kind for e in scheduler.settle()] == ["unavailable"]


def test_server_faults_in_a_row_bench_and_a_success_resets() -> None:
    scheduler, _ = make(3, max_failures=2)
    server = scheduler.add_server("a")
    first, second, third = scheduler.jobs
    scheduler.start(first, server)
    fail(scheduler, first, PromptLostError("gone"))
    scheduler.start(second, server)
    scheduler.succeeded(second)
    scheduler.start(third, server)
    fail(scheduler, third, PromptLostError("gone"))
    assert not scheduler.benched(server)
    scheduler.start(job := scheduler.pick(server) or first, server)
    fail(scheduler, job, PromptLostError("gone"))
    assert scheduler.benched(server)


def test_resumed_jobs_go_to_their_server_first() -> None:
    scheduler, _ = make(2)
    one, two = scheduler.add_server("a"), scheduler.add_server("b")
    scheduler.jobs[1].resume_server = "b"
    assert scheduler.pick(two) is scheduler.jobs[1]
    assert scheduler.pick(one) is scheduler.jobs[0]


def test_error_policy_by_type() -> None:
    assert decide(ComfyUINotSubmittedError("x"), resumed=False, same_rung_retries=5).move is Move.SAME_RUNG
    assert decide(ComfyUIConnectionError("x"), resumed=False, same_rung_retries=0).counts
    assert decide(ComfyUIConnectionError("x"), resumed=False, same_rung_retries=1).move is Move.NEXT_RUNG
    assert decide(PromptLostError("x"), resumed=True, same_rung_retries=0).move is Move.SAME_RUNG
    assert decide(PromptLostError("x"), resumed=False, same_rung_retries=0).move is Move.NEXT_RUNG
    external = decide(FFmpegNotFoundError("no ffmpeg"), resumed=False, same_rung_retries=0)
    assert (external.move, external.failure_kind) == (Move.FAIL, "external")
    assert decide(ComfyUIPermanentExecutionError("x"), resumed=False, same_rung_retries=0).block == "server"
    assert decide(WorkflowError("x"), resumed=False, same_rung_retries=0).block == "all"
