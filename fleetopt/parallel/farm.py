"""Farm scenario chunks out to Ray workers and hand each finished chunk back in order of arrival.

- The job goes into the object store once; each worker process prepares it once (index,
  warm starts) and keeps it in a process-level cache keyed by the job's digest, so a
  chunk costs only its solves.
- At most `workers` chunks run at once; finished chunks stream back through `ray.wait`.
  Where the cluster itself has no more CPUs than `workers` (the embedded local Ray), as
  many chunks again wait queued in Ray, so a worker starts its next chunk while the driver
  is still storing the last one.
- A chunk whose task crashes or raises is retried by Ray (`max_retries`, exceptions
  included). If it still fails, its scenarios are re-run one task each in isolation, where
  a scenario that fails gets an `error` row with the reason: nothing is dropped.
- What fleetopt logs in a task comes back with its result, tagged with the scenario, and
  is re-emitted on the driver (fleetopt.core.logs); progress is logged at INFO.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import ray

from fleetopt.core import interrupts, logs
from fleetopt.core.logs import WorkerRecord
from fleetopt.model.index import build_index
from fleetopt.parallel.progress import Progress
from fleetopt.scenarios.job import ChunkResult, PreparedJob, ScenarioJob, error_rows, solve_chunk

log = logging.getLogger(__name__)
WAKE_S = 5.0  # the driver wakes this often while chunks run (progress, signals)

CHUNK_RETRIES = 2
CHUNK_SHARE = 2  # an automatic chunk takes 1 / (CHUNK_SHARE x workers) of what is left
MAX_CHUNK = 64  # scenarios in an automatic chunk, at most

_PREPARED: dict[str, PreparedJob] = {}


@dataclass(frozen=True)
class Chunk:
    """Scenarios solved by one task; its first scenario names its output part."""

    scenarios: list[int]

    @property
    def name(self) -> str:
        return f"{self.scenarios[0]:09d}"


def chunks_of(scenarios: Sequence[int], chunk_size: int | Callable[[int], int]) -> list[Chunk]:
    """Sorted `scenarios` cut, in order, into chunks of consecutive scenarios.

    `chunk_size` caps each chunk: a number, or a function of how many scenarios are not
    in a chunk yet (auto_chunk). A chunk never spans a gap (scenarios finished by an
    earlier attempt), so parts named by their first scenario merge back in scenario order
    however the run was resumed.
    """
    ordered = sorted(scenarios)
    cap_for = chunk_size if callable(chunk_size) else lambda _left: chunk_size
    chunks: list[list[int]] = []
    cap = 0
    for position, scenario in enumerate(ordered):
        last = chunks[-1] if chunks else None
        if last is None or len(last) == cap or scenario != last[-1] + 1:
            cap = cap_for(len(ordered) - position)
            chunks.append([scenario])
        else:
            last.append(scenario)
    return [Chunk(c) for c in chunks]


def auto_chunk(scenarios_left: int, workers: int) -> int:
    """The next chunk's size when none is given: 1 / (CHUNK_SHARE x workers) of the
    scenarios not in a chunk yet, at least 1 and at most MAX_CHUNK.

    Chunks thus shrink as a run goes on (guided self-scheduling). The first ones are
    large, so each chunk's fixed cost (a Ray task; four parts the driver stores, then
    merges) is spread over many solves; the last ones hold a scenario or two, so the
    workers finish within about a scenario of each other instead of all but one idling
    while it solves a whole last chunk. MAX_CHUNK keeps a long run stored, and
    resumable, in pieces.
    """
    share = math.ceil(scenarios_left / (CHUNK_SHARE * max(workers, 1)))
    return max(1, min(MAX_CHUNK, share))


def connect(address: str | None, workers: int) -> dict:
    """Join a cluster (`auto`, an address, or RAY_ADDRESS), or start an embedded local Ray.

    Returns the cluster's resources, for run manifests.
    """
    if not ray.is_initialized():
        address = address or os.environ.get("RAY_ADDRESS")
        quiet = _ray_quiet()
        if address:
            ray.init(address=address, log_to_driver=False, logging_level=quiet)
            log.info("joined the Ray cluster at %s", address)
        else:
            ray.init(
                address="local",  # a cluster of its own, even where `ray start` runs one
                num_cpus=max(workers, 1),
                include_dashboard=False,
                log_to_driver=False,
                object_store_memory=256 * 1024**2,
                logging_level=quiet,
            )
            log.info("started a local Ray with %d CPUs", max(workers, 1))
        interrupts.install()  # Ray's driver just replaced the SIGTERM handler with its own
    return {k: float(v) for k, v in ray.cluster_resources().items()}


def _ray_quiet() -> int:
    """The level of Ray's own driver messages (its start-up lines, the token-authentication
    warning): shown with -v (fleetopt at INFO or below), errors only otherwise."""
    shown = logging.getLogger(logs.ROOT).getEffectiveLevel() <= logging.INFO
    level = logging.INFO if shown else logging.ERROR
    logging.getLogger("ray").setLevel(level)  # its messages before init sets it
    return level


def _prepared(job_box: list, key: str) -> PreparedJob:
    if key not in _PREPARED:
        _PREPARED.clear()  # one job at a time per worker keeps memory bounded
        _PREPARED[key] = ray.get(job_box[0]).prepare()
    return _PREPARED[key]


@ray.remote(num_cpus=1, max_retries=CHUNK_RETRIES, retry_exceptions=True)
def _chunk_task(
    job_box: list, key: str, scenarios: list[int], isolate: bool, log_level: int
) -> tuple[ChunkResult, list[WorkerRecord]]:
    # The job's ref is boxed in a list so Ray does not fetch it for every task.
    with logs.captured(log_level) as records:
        result = solve_chunk(_prepared(job_box, key), scenarios, isolate)
    return result, records


def run_chunks(
    job: ScenarioJob,
    chunks: Sequence[Chunk],
    workers: int,
    on_chunk: Callable[[Chunk, ChunkResult], None],
    *,
    progress_label: str = "scenarios",
) -> None:
    """Solve every chunk on Ray, calling `on_chunk` on the driver as each one finishes.

    Workers' log records are re-emitted here as each chunk arrives; they are kept in the
    worker only at the level this driver would show (`fleetopt.worker`'s).
    """
    job_box = [ray.put(job)]
    key = job.key()
    level = logging.getLogger(logs.WORKER).getEffectiveLevel()
    pending = list(reversed(chunks))
    in_flight: dict[ray.ObjectRef, Chunk] = {}
    limit = in_flight_limit(workers, ray.cluster_resources().get("CPU", 0.0))
    with Progress(progress_label, sum(len(c.scenarios) for c in chunks)) as progress:
        while pending or in_flight:
            while pending and len(in_flight) < limit:
                chunk = pending.pop()
                in_flight[_chunk_task.remote(job_box, key, chunk.scenarios, False, level)] = chunk
            done, _ = ray.wait(list(in_flight), num_returns=1, timeout=WAKE_S)
            if not done:
                progress.tick()
            for ref in done:
                chunk = in_flight.pop(ref)
                try:
                    result, records = ray.get(ref)
                except ray.exceptions.RayError as err:
                    log.warning(
                        "%s: chunk %s failed after %d retries (%s); solving its %d scenarios"
                        " one at a time",
                        progress_label,
                        chunk.name,
                        CHUNK_RETRIES,
                        _first_line(err),
                        len(chunk.scenarios),
                    )
                    result, records = _isolated(job, job_box, key, chunk.scenarios, level)
                logs.replay(records)
                on_chunk(chunk, result)
                progress.advance(len(chunk.scenarios))


def in_flight_limit(workers: int, cluster_cpus: float) -> int:
    """How many chunks to submit at once so that at most `workers` run at once.

    When the cluster has no more CPUs than `workers`, Ray cannot run more than that, so
    a second round waits queued in Ray (no idle worker between chunks); on a larger
    cluster only `workers` are submitted.
    """
    return 2 * workers if cluster_cpus <= workers else workers


def _isolated(
    job: ScenarioJob, job_box: list, key: str, scenarios: Iterable[int], log_level: int
) -> tuple[ChunkResult, list[WorkerRecord]]:
    """Re-run a failed chunk one scenario per task; what still fails becomes error rows."""
    refs = {s: _chunk_task.remote(job_box, key, [s], True, log_level) for s in scenarios}
    parts, records = [], []
    index = None  # built once, and only if some scenario still fails
    for scenario, ref in refs.items():
        try:
            part, kept = ray.get(ref)
        except ray.exceptions.RayError as again:
            reason = f"failed after {CHUNK_RETRIES} retries: {_first_line(again)}"
            log.warning("scenario %d: %s", scenario, reason, extra={"scenario": scenario})
            if index is None:
                index = build_index(job.case)
            part, kept = error_rows(job, scenario, reason, index), []
        parts.append(part)
        records.extend(kept)
    return ChunkResult.concat(parts), records


def _first_line(err: Exception) -> str:
    text = str(err).strip().splitlines()
    return text[-1] if text else type(err).__name__
