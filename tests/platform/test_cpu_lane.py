"""The CPU lane (``nsp_sandbox.cpu_lane``): jobs run one after another in the order they came, on the lane's own
thread, with the caller's context variables; a started job always finishes, a queued one whose caller went away
never starts; a job that may wait (run_when_idle) starts once the requests' jobs are done, or after its wait; a
staged job's first step runs ahead of the jobs that wait (a bounded number in a row), its second in their order."""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time
from collections.abc import Awaitable, Callable

import pytest

from nsp_sandbox.cpu_lane import AHEAD_AT_MOST, CpuLane

WHO: contextvars.ContextVar[str] = contextvars.ContextVar("who", default="nobody")


def test_jobs_run_one_at_a_time_in_arrival_order_on_the_lane_thread() -> None:
    lane = CpuLane(name="test-lane")
    started: list[int] = []
    threads: set[str] = set()
    running = 0
    most = 0
    lock = threading.Lock()

    def job(n: int) -> int:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
            started.append(n)
            threads.add(threading.current_thread().name)
        total = sum(range(20_000))  # some work, so that overlapping would show
        with lock:
            running -= 1
        return n + total * 0

    async def main() -> list[int]:
        return await asyncio.gather(*(lane.run(job, n) for n in range(25)))

    try:
        assert asyncio.run(main()) == list(range(25))
    finally:
        lane.close()
    assert started == list(range(25))
    assert most == 1
    assert len(threads) == 1 and next(iter(threads)).startswith("test-lane")
    assert threading.current_thread().name not in threads


def test_an_error_reaches_the_caller_and_the_lane_goes_on() -> None:
    lane = CpuLane()

    def fail() -> None:
        raise LookupError("no such entry")

    async def main() -> int:
        with pytest.raises(LookupError, match="no such entry"):
            await lane.run(fail)
        return await lane.run(len, "after")

    try:
        assert asyncio.run(main()) == 5
    finally:
        lane.close()


def test_a_job_sees_the_callers_context_variables() -> None:
    lane = CpuLane()

    async def main() -> str:
        WHO.set("the provide's request")
        return await lane.run(WHO.get)

    try:
        assert asyncio.run(main()) == "the provide's request"
    finally:
        lane.close()


def test_a_started_job_finishes_and_a_queued_one_never_starts_when_their_callers_are_cancelled() -> None:
    lane = CpuLane()
    release = threading.Event()
    entered = threading.Event()
    done: list[str] = []

    def first() -> None:
        entered.set()
        release.wait(10)
        done.append("first")

    def second() -> None:
        done.append("second")

    async def main() -> None:
        running = asyncio.ensure_future(lane.run(first))
        await asyncio.get_running_loop().run_in_executor(None, entered.wait, 10)
        queued = asyncio.ensure_future(lane.run(second))
        await asyncio.sleep(0)
        running.cancel()
        queued.cancel()
        # The cancellation reaches the lane's queue one turn of the loop later; once the queued
        # caller has seen it, its job is out of the queue, and only then does the first job end.
        with pytest.raises(asyncio.CancelledError):
            await queued
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await running

    try:
        asyncio.run(main())
    finally:
        lane.close()  # waits for the started job
    assert done == ["first"]


def test_close_waits_for_the_running_job_and_a_later_job_starts_the_lane_again() -> None:
    lane = CpuLane(name="restarting")
    names: list[str] = []

    async def main() -> None:
        names.append(await lane.run(lambda: threading.current_thread().name))

    asyncio.run(main())
    lane.close()
    asyncio.run(main())
    lane.close()
    assert len(names) == 2 and all(n.startswith("restarting") for n in names)


def test_a_lane_needs_a_thread() -> None:
    with pytest.raises(ValueError):
        CpuLane(threads=0)


def _busy_job(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def test_a_job_that_may_wait_runs_once_the_requests_jobs_are_done() -> None:
    lane = CpuLane(name="idle-lane")
    order: list[str] = []

    async def main() -> None:
        requests = [asyncio.create_task(lane.run(lambda n=n: (_busy_job(0.01), order.append(f"request {n}"))))
                    for n in range(10)]
        await asyncio.sleep(0.005)  # the first is running, nine wait
        later = asyncio.create_task(lane.run_when_idle(lambda: order.append("read ahead"), within=30, quiet=0.3))
        await asyncio.sleep(0.005)
        requests += [asyncio.create_task(lane.run(lambda: order.append("request after")))]  # comes first too
        await asyncio.gather(*requests)
        await asyncio.sleep(0.01)  # a pause shorter than the job's quiet: a request then still comes first
        await lane.run(lambda: order.append("request in the pause"))
        await later
        assert await lane.run_when_idle(lambda: "soon", within=30) == "soon"  # an idle lane: after its quiet moment

    asyncio.run(main())
    lane.close()
    assert order == [f"request {n}" for n in range(10)] + ["request after", "request in the pause", "read ahead"]


def test_a_job_that_may_wait_waits_no_longer_than_it_said_while_requests_keep_coming() -> None:
    lane = CpuLane(name="busy-lane")
    ran: list[float] = []

    async def main() -> None:
        started = time.monotonic()
        stop = started + 1.5

        async def requests() -> None:  # one after another, for 1.5 s (jobs that let the loop send the next)
            while time.monotonic() < stop:
                await lane.run(time.sleep, 0.005)

        async def read_ahead() -> None:
            await asyncio.sleep(0.1)
            await lane.run_when_idle(lambda: ran.append(time.monotonic() - started), within=0.2)

        await asyncio.gather(*(requests() for _ in range(4)), read_ahead())  # four such clients: never an idle lane

    asyncio.run(main())
    lane.close()
    assert len(ran) == 1 and 0.3 <= ran[0] < 1.2, ran  # after its 0.2 s, in turn, long before the requests end


class _Holding:
    """A job that holds the lane until ``release`` is set, then answers ``answer``."""

    def __init__(self, answer: object = "running") -> None:
        self.answer = answer
        self.entered = threading.Event()
        self.release = threading.Event()

    def job(self) -> object:
        self.entered.set()
        self.release.wait(10)
        return self.answer

    async def running(self, lane: CpuLane) -> asyncio.Future[object]:
        """The job given to ``lane``, once it has started."""
        running = asyncio.ensure_future(lane.run(self.job))
        await asyncio.get_running_loop().run_in_executor(None, self.entered.wait, 10)
        return running


def _queued_behind_a_running_job(lane: CpuLane, queue: Callable[[], list[Awaitable[object]]]) -> list[object]:
    """Run ``queue()``'s jobs, all queued while the lane is busy with a job that waits for them."""
    holding = _Holding()

    async def main() -> list[object]:
        running = await holding.running(lane)
        waiting = [asyncio.ensure_future(job) for job in queue()]
        await asyncio.sleep(0.05)  # every job is in the lane's queue
        holding.release.set()
        return [await running, *[await job for job in waiting]]

    try:
        return asyncio.run(main())
    finally:
        lane.close()


def test_a_staged_jobs_first_step_runs_ahead_of_the_waiting_jobs_and_its_second_in_their_order() -> None:
    lane = CpuLane(name="staged-lane")
    order: list[str] = []

    def step(name: str) -> Callable[..., str]:
        def run(*args: object) -> str:
            order.append(name)
            return f"{name}({', '.join(map(str, args))})"
        return run

    answers = _queued_behind_a_running_job(lane, lambda: [
        lane.run(step("plain 1")),
        lane.run_staged(step("check 1"), step("register 1"), "a"),
        lane.run_staged(step("check 2"), step("register 2"), "b"),
        lane.run(step("plain 2")),
    ])
    assert order == ["check 1", "check 2", "plain 1", "register 1", "register 2", "plain 2"]
    assert answers == ["running", "plain 1()", "register 1(check 1(a))", "register 2(check 2(b))", "plain 2()"]


def test_a_job_run_ahead_is_answered_as_soon_as_it_has_run() -> None:
    lane = CpuLane(name="ahead-lane")
    order: list[str] = []
    answered: list[str] = []

    def step(name: str) -> Callable[..., str]:
        def run(*_: object) -> str:
            order.append(name)
            return name
        return run

    async def noted(job: Awaitable[str]) -> str:
        answer = await job
        answered.append(answer)
        return answer

    answers = _queued_behind_a_running_job(lane, lambda: [
        noted(lane.run(step("plain 1"))),
        noted(lane.run_staged(step("check"), step("register"))),
        noted(lane.run_ahead(step("converted"))),
        noted(lane.run(step("plain 2"))),
    ])
    assert order == ["check", "converted", "plain 1", "register", "plain 2"]
    assert answers == ["running", "plain 1", "register", "converted", "plain 2"]
    assert answered.index("converted") < answered.index("plain 1")  # not held back until its turn in arrival order


def test_first_steps_jump_no_more_than_so_many_waiting_jobs_in_a_row() -> None:
    lane = CpuLane(name="bounded-lane")
    order: list[str] = []
    staged = AHEAD_AT_MOST + 2

    answers = _queued_behind_a_running_job(lane, lambda: [
        lane.run(order.append, "plain"),
        *(lane.run_staged(order.append, lambda _none, n=n: order.append(f"register {n}"), f"check {n}")
          for n in range(staged)),
    ])
    checks = [f"check {n}" for n in range(staged)]
    assert order == [*checks[:AHEAD_AT_MOST], "plain", *checks[AHEAD_AT_MOST:],
                     *(f"register {n}" for n in range(staged))]
    assert answers == ["running"] + [None] * (staged + 1)


def test_an_error_of_the_first_step_reaches_the_caller_and_the_second_never_runs() -> None:
    lane = CpuLane()
    ran: list[str] = []

    def check() -> None:
        raise LookupError("refused")

    async def main() -> None:
        with pytest.raises(LookupError, match="refused"):
            await lane.run_staged(check, lambda _none: ran.append("register"))
        assert await lane.run_staged(str.upper, str.strip, "  after ") == "AFTER"

    try:
        asyncio.run(main())
    finally:
        lane.close()
    assert ran == []


def test_a_queued_staged_job_whose_caller_went_away_runs_neither_step() -> None:
    lane = CpuLane()
    holding = _Holding()
    ran: list[str] = []

    async def main() -> None:
        running = await holding.running(lane)
        queued = asyncio.ensure_future(lane.run_staged(ran.append, lambda _none: ran.append("register"), "check"))
        await asyncio.sleep(0)
        queued.cancel()
        with pytest.raises(asyncio.CancelledError):
            await queued
        holding.release.set()
        await running
        assert await lane.run(len, "idle") == 4  # the lane goes on

    try:
        asyncio.run(main())
    finally:
        lane.close()
    assert ran == []


def test_a_job_that_may_wait_waits_for_a_staged_jobs_second_step_too() -> None:
    lane = CpuLane(name="staged-idle")
    order: list[str] = []

    async def main() -> None:
        staged = asyncio.create_task(lane.run_staged(lambda: (_busy_job(0.05), order.append("check")),
                                                     lambda _none: (_busy_job(0.05), order.append("register"))))
        await asyncio.sleep(0.01)
        await lane.run_when_idle(lambda: order.append("read ahead"), within=30, quiet=0.02)
        await staged

    asyncio.run(main())
    lane.close()
    assert order == ["check", "register", "read ahead"]


def test_a_job_given_while_the_lane_closes_runs_and_close_returns() -> None:
    lane = CpuLane(name="closing-lane")
    holding = _Holding("the running job")

    async def main() -> list[object]:
        running = await holding.running(lane)
        closing = threading.Thread(target=lane.close)
        closing.start()  # waits for the running job
        await asyncio.sleep(0.05)
        later = await lane.run(lambda: "a job after the close")  # a lane of its own, not stopped by that close
        holding.release.set()
        closing.join(10)
        assert not closing.is_alive()
        return [await running, later]

    try:
        assert asyncio.run(main()) == ["the running job", "a job after the close"]
    finally:
        lane.close()
