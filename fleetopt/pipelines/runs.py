"""Scenario runs into folders: sweep (wait and see), evaluate (fixed plans), robust selection.

Each run is a `ScenarioStore` folder: resumable chunk by chunk, complete only once
`_SUCCESS` is down. Robust selection (docs/model.md section 5) compares candidate plans on the
same scenarios (common random numbers) by total cost = fleet + penalty, the quantity
evaluate measures; so its expected-value plan and its sweep are solved with `min_cost`,
which makes the EVPI a true gap (chosen plan minus wait-and-see, both in total cost).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd

from fleetopt.core import defaults
from fleetopt.core.errors import CaseError, Problem, RunError, RunFolderError
from fleetopt.core.interrupts import failure_reason
from fleetopt.io.case import Case, Objective, case_fingerprint
from fleetopt.io.runfolder import (
    RunKind,
    normalized,
    read_record,
)
from fleetopt.io.store import ScenarioStore, run_into, write_folder_atomic
from fleetopt.model.costs import check_shortfall_priced
from fleetopt.model.index import ModelIndex, build_index
from fleetopt.model.measures import rack_mix
from fleetopt.parallel.farm import Chunk, connect, run_chunks
from fleetopt.pipelines.options import Criterion, RobustOptions, ScenarioOptions
from fleetopt.pipelines.plan import expected_value_plan, plan_case
from fleetopt.results.runs import Distribution, EstimateKind, RobustSummary, ScenarioSummary
from fleetopt.results.schema import read_summary, summary_json, write_summary
from fleetopt.results.tables import operating_points
from fleetopt.scenarios.job import (
    ChunkResult,
    ScenarioJob,
    conform_results,
    for_workers,
)
from fleetopt.scenarios.stats import (
    paired_difference,
    plan_summaries,
    rack_type_summary,
    site_summary,
)
from fleetopt.solve.result import SOLVED, SolveStatus

log = logging.getLogger(__name__)

EXPECTED_VALUE = "expected-value"
ROBUST_BOUNDS_NOTE = (
    "the value of the stochastic solution is a lower bound and the expected value of perfect"
    " information an upper bound: the chosen plan is the best of the candidates, not the"
    " optimum over all plans (`fleetopt stochastic` solves for that, with certified bounds)"
)


SUMMARY_RESULT_COLUMNS = [
    "scenario",
    "plan",
    "status",
    "cost_per_mtok_usd",
    "total_cost_usd_per_year",
    "unmet_share",
    "shortfall_share",
]


def open_store(
    job: ScenarioJob, n_scenarios: int, out_dir: str | Path, *, overwrite: bool = False
) -> ScenarioStore:
    """The run folder of `job` over `n_scenarios` scenarios, claimed (see ScenarioStore)."""
    params = {**job.identity(), "scenarios": n_scenarios}
    return ScenarioStore(out_dir, job.mode, params, overwrite=overwrite)


def run_scenarios(
    job: ScenarioJob,
    out_dir: str | Path,
    run: ScenarioOptions,
    alpha: float = defaults.ALPHA,
) -> ScenarioSummary:
    """Solve scenarios 0..n-1 of `job` into `out_dir`; resumes finished chunks; returns summary
    (its distributions' CVaR at `alpha`).

    The same run (same job and scenario count) resumes or, once complete, returns its
    summary; another run of the same kind there is refused unless `run.overwrite`.
    """
    n_scenarios, settings = run.scenarios, run.farm
    store = open_store(job, n_scenarios, out_dir, overwrite=run.overwrite)
    if store.complete:
        log.info("%s: %s holds this run complete already", job.mode.value, store.root)
        store.close()
        return read_summary(store.root, ScenarioSummary)
    store.start()
    try:
        connect(settings.address, settings.workers)
        done = store.finished_scenarios()
        left = [s for s in range(n_scenarios) if s not in done]
        todo = settings.chunks(left)
        sizes = sorted({len(c.scenarios) for c in todo}) or [0]
        log.info(
            "%s: %d scenarios to solve%s, in %d chunks of %s on %d workers",
            job.mode.value,
            len(left),
            f" ({len(done)} of {n_scenarios} already done)" if done else "",
            len(todo),
            f"{sizes[-1]} down to {sizes[0]}" if len(sizes) > 1 else sizes[0],
            settings.workers,
        )

        def keep(chunk: Chunk, result: ChunkResult) -> None:
            store.write_chunk(
                chunk.name,
                {
                    "results": conform_results(result.results),
                    "mix": result.mix,
                    "sites": result.sites,
                    "scenarios": result.draws,
                },
            )

        run_chunks(job, todo, settings.workers, keep, progress_label=job.mode.value)
        started = time.perf_counter()
        store.merge()
        summary = summarize_run(store.root, job, n_scenarios, alpha)
        merged_s = time.perf_counter() - started
        log.debug("%s: merged and summarized in %.2f s", job.mode.value, merged_s)
    except BaseException as err:
        store.fail(failure_reason(err))
        raise
    store.finish(summary_json(summary))
    return summary


def summarize_run(root: Path, job: ScenarioJob, n_scenarios: int, alpha: float) -> ScenarioSummary:
    """summary.json of a scenario run, computed from its merged tables.

    Only the columns the summaries use are read, so the driver holds a few numbers per
    scenario, not the run's tables.
    """
    results = pd.read_parquet(root / "results.parquet", columns=SUMMARY_RESULT_COLUMNS)
    period = ["period"] if job.case.multi_period else []
    mix = _read_optional(root / "mix.parquet", ["scenario", *period, "rack_type", "count"])
    sites = _read_optional(root / "sites.parquet", ["site", "power_mw", "power_cap_mw"])
    rack_types, left_out = None, None
    if job.mode is RunKind.SWEEP:
        solved = results.loc[results["status"].isin(SOLVED), "scenario"]
        rack_types = rack_type_summary(mix, pd.Index(sorted(solved)))
        left_out = n_scenarios - len(solved)
    return ScenarioSummary(
        kind=job.mode.value,
        case=job.case.name,
        scenarios=n_scenarios,
        seed=job.case.uncertainty.seed,
        alpha=alpha,
        errors=int((results["status"] == SolveStatus.ERROR).sum()),
        plans=plan_summaries(results, alpha),
        sites=site_summary(sites) if len(sites) else {},
        rack_types=rack_types,
        rack_types_left_out=left_out,
    )


def _read_optional(path: Path, columns: list[str]) -> pd.DataFrame:
    if not path.exists():
        return pd.DataFrame(columns=columns)
    return pd.read_parquet(path, columns=columns)


def sweep(
    case: Case, out_dir: str | Path, run: ScenarioOptions, *, alpha: float = defaults.ALPHA
) -> ScenarioSummary:
    """Wait and see: the full model in every scenario."""
    expected = plan_case(case)
    job = ScenarioJob(
        case=case, mode=RunKind.SWEEP, options=for_workers(case.solver), hint=expected.x
    )
    return run_scenarios(job, out_dir, run, alpha)


def evaluate(
    case: Case,
    plans: dict[str, np.ndarray],
    out_dir: str | Path,
    run: ScenarioOptions,
    *,
    alpha: float = defaults.ALPHA,
    shortfall: bool = False,
) -> ScenarioSummary:
    """Fix each plan's rack counts and solve the placement LP in every scenario; with
    `shortfall`, a share short of a min_served_share is paid for (docs/model.md section 9)."""
    if shortfall:
        check_shortfall_priced(case)
    job = ScenarioJob(
        case=case,
        mode=RunKind.EVALUATE,
        options=for_workers(case.solver),
        plans=plans,
        shortfall=shortfall,
    )
    return run_scenarios(job, out_dir, run, alpha)


def plan_keys(index: ModelIndex) -> list[str]:
    """The columns naming a plan's rows: (period in a multi-period case,) site, rack_type."""
    return [*(["period"] if index.multi_period else []), "site", "rack_type"]


def plan_counts(index: ModelIndex, racks: pd.DataFrame, file: str) -> np.ndarray:
    """Racks in service per `sr` row from a racks table (site, rack_type, count; and period
    in a multi-period case: the whole schedule)."""
    keys = plan_keys(index)
    if index.multi_period != ("period" in racks.columns):
        expected = "one row per period (a period column)" if index.multi_period else "no period"
        raise CaseError(
            [
                Problem(
                    file,
                    f"the case has {'' if index.multi_period else 'no '}periods, so a "
                    f"plan for it has {expected}: it is a plan of another case",
                )
            ]
        )
    counts = index.sr[[*keys, "installed"]].merge(racks[[*keys, "count"]], on=keys, how="left")
    matched = racks.merge(index.sr[keys], how="left", indicator="match")
    unknown = matched[(matched["match"] == "left_only") & (matched["count"] > 0)]
    what = ", ".join(k.replace("_", " ") for k in keys)
    problems = [
        Problem(
            file,
            f"no such ({what}) in the case: {', '.join(str(getattr(r, k)) for k in keys)}",
            i + 1,
        )
        for i, r in zip(unknown.index, unknown.itertuples(), strict=True)
    ]
    below = counts["count"].fillna(0) < counts["installed"]
    problems += [
        Problem(
            file,
            f"{', '.join(str(getattr(r, k)) for k in keys)}: plan has fewer racks than installed",
        )
        for r in counts[below].itertuples()
    ]
    if problems:
        raise CaseError(problems)
    return counts["count"].fillna(0.0).to_numpy(dtype=float)


def read_plan(index: ModelIndex, run_dir: str | Path) -> np.ndarray:
    """A plan's rack counts from a solve run folder (its racks.parquet), or from a stochastic
    run of a case without periods (its first stage is the whole plan). A stochastic run of a
    schedule fixes only the racks ordered now, not a schedule: refused (exit 2), as is a
    folder of another kind."""
    folder = Path(run_dir)
    record = read_record(folder)
    kind = record.kind if record is not None else None
    if kind == RunKind.STOCHASTIC and (folder / "racks.parquet").exists():
        racks = pd.read_parquet(folder / "racks.parquet")
        if "period" in racks.columns:
            raise RunFolderError(
                f"{folder} is a stochastic run of a schedule: its plan fixes only the racks"
                " ordered now (its orders.parquet); the later years are decided in each future,"
                " so it is no schedule that evaluate can fix. Its own check on fresh futures is"
                f" its out-of-sample result (`fleetopt show {folder}`); or evaluate a"
                " `fleetopt solve` run of the case"
            )
    elif kind not in (None, RunKind.PLAN):
        raise RunFolderError(
            f"{folder} is a {kind} run: --plan must name a `fleetopt solve` run (or a"
            " stochastic run of a case without periods)"
        )
    path = folder / "racks.parquet"
    if not path.exists():
        raise CaseError([Problem(str(path), "missing: --plan must name a `fleetopt solve` run")])
    return plan_counts(index, pd.read_parquet(path), str(path))


def distinct_plans(
    mix: pd.DataFrame, index: ModelIndex, limit: int
) -> list[tuple[np.ndarray, int]]:
    """The `limit` most frequent distinct rack mixes of a sweep, with their frequencies."""
    if not len(mix):
        return []
    keyed = mix.merge(index.sr.reset_index(names="sr")[[*plan_keys(index), "sr"]])
    keyed = keyed.sort_values(["scenario", "sr"])
    signature = keyed.assign(item=keyed["sr"].astype(str) + ":" + keyed["count"].astype(str))
    plans = signature.groupby("scenario")["item"].agg(",".join)
    freq = plans.value_counts(sort=False)
    first_seen = plans.reset_index().groupby("item")["scenario"].min()
    order = sorted(freq.index, key=lambda k: (-freq[k], first_seen[k]))[:limit]
    out = []
    for key in order:
        counts = np.zeros(len(index.sr))
        for item in key.split(","):
            sr, count = item.split(":")
            counts[int(sr)] = float(count)
        out.append((counts, int(freq[key])))
    return out


def robust(
    case: Case,
    out_dir: str | Path,
    run: ScenarioOptions,
    choice: RobustOptions,
) -> RobustSummary:
    """Choose the plan that holds up best across the scenarios (docs/model.md section 5); with
    `choice.shortfall`, candidates are evaluated with the shortfall rule (section 9).

    The folder holds its own run record (kind robust) over its sweep and evaluate runs:
    the same robust run resumes or returns its summary; other parameters are refused
    unless `run.overwrite` (its sweep and evaluate runs are its own: they resume).
    """
    if choice.shortfall:
        check_shortfall_priced(case)
    out = Path(out_dir)
    case = case.replace(objective=Objective.MIN_COST)
    params = normalized(
        {
            "case": case_fingerprint(case),
            "seed": case.uncertainty.seed,
            "scenarios": run.scenarios,
            "criterion": choice.criterion.value,
            "alpha": choice.alpha,
            "candidates": choice.candidates,
            "shortfall": choice.shortfall,
        }
    )
    return run_into(
        out,
        RunKind.ROBUST,
        params,
        lambda: _robust(case, out, dataclasses.replace(run, overwrite=False), choice),
        write=write_summary,
        read=lambda folder: read_summary(folder, RobustSummary),
        overwrite=run.overwrite,
    )


def _robust(case: Case, out: Path, run: ScenarioOptions, choice: RobustOptions) -> RobustSummary:
    """Robust selection's work: sweep, candidates, evaluate, choice; returns its summary."""
    index = build_index(case)
    expected = expected_value_plan(case, index)
    sweep_job = ScenarioJob(
        case=case, mode=RunKind.SWEEP, options=for_workers(case.solver), hint=expected.x
    )
    alpha = choice.alpha
    sweep_summary = run_scenarios(sweep_job, out / "sweep", run, alpha)
    mix = pd.read_parquet(out / "sweep" / "mix.parquet")

    ev_counts = expected.solution[expected.result.model.layout.n]
    plans = {EXPECTED_VALUE: ev_counts}
    frequency: dict[str, int | None] = {EXPECTED_VALUE: None}
    for counts, seen in distinct_plans(mix, index, choice.candidates):
        same = next((k for k, c in plans.items() if np.array_equal(c, counts)), None)
        if same is not None:  # the expected-value plan was also a sweep plan
            frequency[same] = seen
            continue
        name = f"sweep-{len(plans):02d}"
        plans[name], frequency[name] = counts, seen

    evaluation = evaluate(
        case, plans, out / "evaluate", run, alpha=alpha, shortfall=choice.shortfall
    )
    costs = ["scenario", "plan", "status", "total_cost_usd_per_year"]
    results = pd.read_parquet(out / "evaluate" / "results.parquet", columns=costs)
    ws = pd.read_parquet(out / "sweep" / "results.parquet", columns=costs)
    chosen, scores = choose(results, choice.criterion, alpha)
    total = results.pivot(index="scenario", columns="plan", values="total_cost_usd_per_year")
    ws_total = ws.set_index("scenario")["total_cost_usd_per_year"]

    candidates_table = _candidates_table(index, plans, frequency, scores)
    chosen_racks = candidates_table[candidates_table["plan"] == chosen][
        [*plan_keys(index), "count", "installed"]
    ]
    summary = RobustSummary(
        case=case.name,
        scenarios=run.scenarios,
        seed=case.uncertainty.seed,
        criterion=choice.criterion.value,
        alpha=alpha,
        chosen_plan=chosen,
        scores=scores,
        candidates=evaluation.plans,
        vss=paired_difference(total[EXPECTED_VALUE], total[chosen], EstimateKind.LOWER_BOUND),
        evpi=paired_difference(total[chosen], ws_total, EstimateKind.UPPER_BOUND),
        wait_and_see_total_cost_usd_per_year=Distribution.of(ws_total, alpha),
        shortfall=choice.shortfall,
        bounds_note=ROBUST_BOUNDS_NOTE,
        sweep_errors=sweep_summary.errors,
        evaluate_errors=evaluation.errors,
    )
    write_folder_atomic(
        out / "choice",
        {
            "candidates": candidates_table,
            "racks": chosen_racks.reset_index(drop=True),
            "operating_points": operating_points(case, index),
        },
        summary_json(summary),
    )
    return summary


def choose(
    results: pd.DataFrame, criterion: Criterion, alpha: float
) -> tuple[str, dict[str, float]]:
    """The plan to buy: fewest unsolvable scenarios first, then the least mean (or CVaR)
    total cost over the scenarios that every candidate solved.

    A fixed plan is infeasible in a scenario when it cannot meet a workload's
    min_served_share there; no cost makes up for that, so it ranks first.
    """
    solved = results["status"].isin(SOLVED)
    failures = (~solved).groupby(results["plan"], sort=False).sum()
    total = results[solved].pivot(
        index="scenario", columns="plan", values="total_cost_usd_per_year"
    )
    total = total.dropna()
    if total.empty:
        raise RunError("no scenario was solved for every candidate plan")
    scores = {
        str(plan): getattr(Distribution.of(total[plan], alpha), criterion.value)
        for plan in total.columns
    }
    order = list(dict.fromkeys(results["plan"]))  # first-listed wins ties
    chosen = min(scores, key=lambda p: (failures[p], scores[p], order.index(p)))
    return chosen, scores


def _candidates_table(
    index: ModelIndex, plans: dict[str, np.ndarray], frequency: dict, scores: dict
) -> pd.DataFrame:
    frames = [
        rack_mix(index, counts).assign(
            plan=plan, sweep_frequency=frequency.get(plan) or 0, score=scores.get(plan, np.nan)
        )
        for plan, counts in plans.items()
    ]
    columns = ["plan", *plan_keys(index), "count", "installed", "sweep_frequency", "score"]
    return pd.concat(frames, ignore_index=True)[columns]
