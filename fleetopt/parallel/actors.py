"""Ray actors as the transport of a two-stage run's subproblems (fleetopt.solve.hedging).

- Each of `workers` actors prepares the run's `StageJob` once and keeps every scenario's
  stage model it has built, so an iteration costs only solves. Actors are spread over the
  cluster's nodes (Ray's SPREAD strategy).
- `StagePool.solve(tasks)` cuts the tasks into chunks and hands them out as actors free up
  (two in flight each, so none idles while the driver collects), then returns the replies
  in task order. Which actor solves what does not matter: a reply depends on its task
  alone.
- An actor that dies (its process killed, its node lost) is restarted by Ray
  (`max_restarts`) and its calls are retried there (`max_task_retries`); one that cannot
  be restarted any more is replaced by a new actor and its chunks go there. A chunk whose
  solve raises is tried once more; if it raises again the run stops with that error
  (no subproblem may be left out: every bound needs every scenario).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

import ray

from fleetopt.core import defaults
from fleetopt.core.errors import SolverError
from fleetopt.parallel.farm import auto_chunk, chunks_of
from fleetopt.parallel.progress import Progress
from fleetopt.scenarios.stage import PreparedStages, StageJob
from fleetopt.solve.hedging import Reply, Task

ACTOR_RESTARTS = 3  # Ray restarts a dead actor this often
CALL_RETRIES = 3  # and retries a call that was running on it
REPLACEMENTS = 4  # actors a pool replaces once Ray has given up restarting them
IN_FLIGHT_PER_ACTOR = 2


@ray.remote(num_cpus=1, max_restarts=ACTOR_RESTARTS, max_task_retries=CALL_RETRIES)
class StageActor:
    """One worker: the prepared job and its stage models, kept across calls.

    Every call brings the job's object ref (boxed in a list, so Ray hands over the ref,
    not the job); the actor prepares it on its first call, and again after a restart.
    (Creation arguments in the object store would not survive a restart for sure:
    ray-project/ray#53727.)
    """

    def __init__(self) -> None:
        self.prepared: PreparedStages | None = None

    def solve(self, job_box: list, tasks: list[Task]) -> list[Reply]:
        if self.prepared is None:
            self.prepared = ray.get(job_box[0]).prepare()
        return [self.prepared.solve(task) for task in tasks]

    def node(self) -> str:
        return ray.get_runtime_context().get_node_id()


class StagePool:
    """`workers` actors answering task lists; replaces actors that Ray could not restart."""

    def __init__(self, job: StageJob, workers: int, chunk: int | str):
        self.job_box = [ray.put(job)]
        self.workers = workers
        self.chunk = chunk  # tasks per actor call, or `auto` (fleetopt.parallel.farm)
        self.actors = [self._new_actor() for _ in range(workers)]
        self.replaced = 0

    def _new_actor(self) -> ray.actor.ActorHandle:
        """A new actor, spread over the nodes (`options` is what ray.remote adds)."""
        spread = StageActor.options(scheduling_strategy="SPREAD")  # type: ignore[attr-defined]
        return spread.remote()

    def nodes(self) -> list[str]:
        """The node each actor runs on."""
        return ray.get([actor.node.remote() for actor in self.actors])

    def close(self) -> None:
        for actor in self.actors:
            ray.kill(actor, no_restart=True)

    def solve(self, tasks: Sequence[Task], label: str | None = None) -> list[Reply]:
        """Every task's reply, in task order; with a `label`, its progress shows (a step of
        its own, such as evaluating a plan in every scenario)."""
        if label is None:
            return self._solve(tasks, None)
        with Progress(label, len(tasks)) as progress:
            return self._solve(tasks, progress)

    def _solve(self, tasks: Sequence[Task], progress: Progress | None) -> list[Reply]:
        size = (
            (lambda left: auto_chunk(left, self.workers))
            if self.chunk == defaults.AUTO
            else max(1, int(self.chunk))
        )
        chunks = [chunk.scenarios for chunk in chunks_of(range(len(tasks)), size)]
        pending = deque((c, 0) for c in range(len(chunks)))
        replies: list[Reply | None] = [None] * len(tasks)
        in_flight: dict[ray.ObjectRef, tuple[int, object, int, int]] = {}
        load = [0] * len(self.actors)

        def fill() -> None:
            for slot in range(len(self.actors)):
                while pending and load[slot] < IN_FLIGHT_PER_ACTOR:
                    chunk, attempt = pending.popleft()
                    actor = self.actors[slot]
                    batch = [tasks[i] for i in chunks[chunk]]
                    call: ray.ObjectRef = actor.solve.remote(self.job_box, batch)
                    in_flight[call] = (slot, actor, chunk, attempt)
                    load[slot] += 1

        fill()
        while in_flight:
            (ref,), _ = ray.wait(list(in_flight), num_returns=1)
            slot, actor, chunk, attempt = in_flight.pop(ref)
            load[slot] -= 1
            try:
                answers = ray.get(ref)
            except ray.exceptions.RayActorError as err:
                self._replace(slot, actor, err)
                pending.appendleft((chunk, attempt))
            except ray.exceptions.RayTaskError as err:
                if attempt >= 1:
                    raise SolverError(f"a subproblem failed twice: {_last_line(err)}") from None
                pending.appendleft((chunk, attempt + 1))
            else:
                for i, answer in zip(chunks[chunk], answers, strict=True):
                    replies[i] = answer
                if progress is not None:
                    progress.advance(len(answers))
            fill()
        return replies  # type: ignore[return-value]

    def _replace(self, slot: int, actor, err: Exception) -> None:
        """A new actor in `slot`, unless the dead one was replaced already."""
        if self.actors[slot] is not actor:
            return
        if self.replaced >= REPLACEMENTS:
            raise SolverError(
                f"workers died {self.replaced + 1} times beyond Ray's restarts: {_last_line(err)}"
            ) from None
        self.replaced += 1
        self.actors[slot] = self._new_actor()


def _last_line(err: Exception) -> str:
    text = str(err).strip().splitlines()
    return text[-1] if text else type(err).__name__
