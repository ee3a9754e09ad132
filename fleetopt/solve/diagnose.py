"""Why a model has no feasible plan, in planners' terms, from two elastic re-solves.

Built on a LinearModel (fleetopt.model.build), generically over its variable blocks and
row families (docs/model.md section 7):

- shortfall: the serve minimums m[w] <= 1 - min_served_share[w] become rows
  m[w] - short[w] <= 1 - min_served_share[w], with m[w] <= 1 and short[w] >= 0;
  min sum_w short[w] says how much of each workload today's limits can serve.
- slack: the minimums kept; each row of a limit family (power per site in MW, space per
  site in slots, supply per rack type in racks; for a fixed plan, delivered racks per site
  and rack type) gets a column slack >= 0, row - slack <= limit; min sum slack / limit
  says which limits are short, and by how much. Variable bounds tightened from those
  limits (fleetopt.model.bounds) come from the same model built without them. A workload
  that no site can serve within its SLO (no slack would help) has its minimum relaxed
  there and is named instead.

With periods (docs/model.md section 8) every minimum and every limit is one per year: a
workload is short in a year, for a limit of that year, and both are named with the year
("needs 90% served in 2030 ... site eu is short of 12 MW in 2030"); a workload no site can
serve is judged year by year, on the phases with demand in that year.

Each limit family's wording sits with the ids of its rows (`LIMITS`; fleetopt.model.labels).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from fleetopt.io.case import Case
from fleetopt.io.schema import PHASES
from fleetopt.io.solver import SolverOptions
from fleetopt.model.build import LinearModel, build_evaluate_model, build_plan_model
from fleetopt.model.constraints import RowBlock, define_delivered_limit
from fleetopt.model.index import ModelIndex
from fleetopt.model.inputs import ModelData
from fleetopt.model.labels import ids_of
from fleetopt.model.layout import Block, VariableLayout
from fleetopt.solve.deadline import Deadline
from fleetopt.solve.mathopt import Engine, Solution, solve_model
from fleetopt.solve.result import SolveStatus

TOLERANCE = 1e-6  # shortfalls (shares) and slacks (relative to their limit) below this are none
MAX_LISTED = 10  # workloads, and shortages per workload, named in one diagnosis


@dataclass(frozen=True)
class Limit:
    """How a shortage of one limit family reads: who is short, of what, against which limit."""

    who: str  # formatted with the row's ids
    unit: str
    limit: str  # formatted with the limit's value
    verb: str  # "the sites in region eu <verb> at most 40% of it"


LIMITS = {
    "power": Limit("site {site}", "MW", "cap {value} MW", "can power"),
    "space": Limit("site {site}", "slots", "max_slots {value}", "have floor space for"),
    "supply": Limit("rack type {rack_type}", "racks", "max_count {value}", "can get racks for"),
    "delivered_limit": Limit(
        "rack type {rack_type} at site {site}",
        "racks",
        "{value} delivered",
        "have racks delivered for",
    ),
}
ANY_LIMIT_VERB = "can serve"
NUMERICAL_TROUBLE = (
    "the solver found no feasible plan, but the elastic re-solves find nothing short;"
    " the model may be numerically difficult"
)
PLAN_LIMITS = ("power", "space", "supply")
EVALUATE_LIMITS = ("power", "delivered_limit")


def diagnose_plan(
    index: ModelIndex,
    case: Case,
    data: ModelData,
    options: SolverOptions,
    *,
    deadline: Deadline | None = None,
) -> str:
    """Why the plan model (either objective: the rows are the same) on `data` is infeasible."""
    model = build_plan_model(index, case, data)
    free_index, free_data = without_limits(index, data)
    free = build_plan_model(free_index, case, free_data)
    return _diagnose(
        index,
        model,
        free,
        PLAN_LIMITS,
        (),
        _Solver(options, None, deadline),
        whose="the sites",
        no_slack="relaxing the limits does not make room",
    )


def diagnose_evaluate(
    index: ModelIndex,
    case: Case,
    data: ModelData,
    counts: np.ndarray,
    options: SolverOptions,
    *,
    engine: Engine,
) -> str:
    """Why a plan with fixed rack `counts` cannot meet the minimums on `data` (a scenario):
    the limits it can fix are power and delivered racks."""
    model = build_evaluate_model(index, case, data, counts)
    free_index, free_data = without_limits(index, data)
    free = build_evaluate_model(free_index, case, free_data, counts)
    delivered = define_delivered_limit(index, model.layout, data, counts)
    return _diagnose(
        index,
        model,
        free,
        EVALUATE_LIMITS,
        (delivered,),
        _Solver(options, engine, None),
        whose="the plan's sites",
        no_slack="the plan has too few racks even with every rack delivered and powered",
    )


def without_limits(index: ModelIndex, data: ModelData) -> tuple[ModelIndex, ModelData]:
    """The same numbers with every limit lifted: no power cap, floor or supply limit, every
    rack delivered (the model built on them has the bounds the limits did not tighten)."""
    sites = index.sites.assign(max_slots=np.inf)
    free_data = dataclasses.replace(
        data,
        power_cap_mw=np.full_like(data.power_cap_mw, np.inf),
        max_count=np.full_like(data.max_count, np.inf),
        delivered_share=np.ones_like(data.delivered_share),
    )
    return dataclasses.replace(index, sites=sites), free_data


@dataclass(frozen=True)
class _Solver:
    """How the elastic models are solved: the case's solver (or an LP engine), within the
    plan's deadline where there is one (the first re-solve gets half of what is left)."""

    options: SolverOptions
    engine: Engine | None
    deadline: Deadline | None

    def solve(self, model: LinearModel, *, first: bool = False) -> Solution:
        deadline = self.deadline
        if deadline is not None and first:
            now = time.monotonic()
            deadline = dataclasses.replace(deadline, at=now + max(0.0, deadline.at - now) / 2)
        return solve_model(model, self.options, engine=self.engine, deadline=deadline)


def _diagnose(
    index: ModelIndex,
    model: LinearModel,
    free: LinearModel,
    limits: Sequence[str],
    extra_rows: Sequence[RowBlock],
    solver: _Solver,
    *,
    whose: str,
    no_slack: str,
) -> str:
    """Shortfall first (which workloads, how much), then slack (which limits, how much)."""
    m = model.layout.block("m")
    relaxed = shortfall_model(model)
    shortfall = solver.solve(relaxed, first=True)
    if shortfall.status is SolveStatus.INFEASIBLE:
        # The limits break before any serving: racks already installed that do not fit.
        elastic = slack_model(index, model, free, limits, extra_rows, np.ones(m.size, bool))
        slack = solver.solve(elastic)
        if slack.x is None:
            return _no_diagnosis("the re-solve with every limit relaxed", slack)
        shortages = _shortages(index, elastic, slack.x, limits)
        if shortages.empty:
            return NUMERICAL_TROUBLE
        return "even serving nothing, the racks already installed break a limit: " + _list(
            shortages["text"]
        )
    if shortfall.x is None:
        return _no_diagnosis("the re-solve with relaxed minimums", shortfall)
    short = _short_workloads(index, relaxed, shortfall.x)
    if short.empty:
        return NUMERICAL_TROUBLE
    unservable = _unservable(index)  # per `wk` row: why, or ""
    short["unservable"] = unservable[short["wk"].to_numpy()]
    shortages, why_none = None, no_slack
    if (short["unservable"] == "").any():
        relax = unservable != ""  # the m block is over `wk` too
        elastic = slack_model(index, model, free, limits, extra_rows, relax)
        slack = solver.solve(elastic)
        if slack.x is not None:
            shortages = _shortages(index, elastic, slack.x, limits)
        elif slack.status is not SolveStatus.INFEASIBLE:
            why_none = _no_diagnosis("the re-solve with relaxed limits", slack)
    text = _explain(index, short, shortages, whose=whose, why_none=why_none)
    if shortfall.status is not SolveStatus.OPTIMAL:
        text += f" (the shortfall is not proven least: {shortfall.message})"
    return text


# --- the elastic models -------------------------------------------------------------------


@dataclass(frozen=True)
class _Columns:
    """A block of new nonnegative columns with their upper bounds and objective costs."""

    name: str
    over: str  # the index table whose rows the columns follow (fleetopt.model.layout)
    ub: np.ndarray
    cost: np.ndarray


def shortfall_model(model: LinearModel) -> LinearModel:
    """min sum_w short[w]  s.t. the model's rows, m[w] - short[w] <= 1 - min_served_share[w],
    m[w] <= 1, short[w] >= 0: the serve minimums relaxed."""
    m = model.layout.block("m")
    w = np.arange(m.size)  # the m block's rows (workload and period)
    minimum = RowBlock(
        name="minimum",
        row=np.concatenate([w, w]),
        col=np.concatenate([model.layout.col("m", w), model.n_variables + w]),
        val=np.concatenate([np.ones(m.size), -np.ones(m.size)]),
        lb=np.full(m.size, -np.inf),
        ub=model.ub[m.slice].copy(),
        over=m.over,
        keys=w,
    )
    ub = model.ub.copy()
    ub[m.slice] = 1.0
    shortfall = _Columns("shortfall", m.over, np.full(m.size, np.inf), np.ones(m.size))
    return _extend(dataclasses.replace(model, ub=ub), [shortfall], [minimum])


def slack_model(
    index: ModelIndex,
    model: LinearModel,
    free: LinearModel,
    limits: Sequence[str],
    extra_rows: Sequence[RowBlock],
    relax: np.ndarray,
) -> LinearModel:
    """min sum slack / limit  s.t. the model's rows and `extra_rows`, each row of the families
    `limits` as row - slack <= limit; bounds from `free` (the model built without limits),
    the minimums of the m columns where `relax` holds lifted.

    Slack columns are one block per family over the index table its rows follow (positions
    without a row are fixed at 0), so they carry that table's ids.
    """
    m = model.layout.block("m")
    ub = free.ub.copy()
    ub[m.slice] = np.where(relax, 1.0, model.ub[m.slice])
    base = _extend(dataclasses.replace(model, lb=free.lb.copy(), ub=ub), [], extra_rows)
    columns, entries, start = [], [], base.n_variables
    for family in _with_rows(base, limits):
        rows = base.families[family]
        table, keys = base.row_over[family]
        size = len(getattr(index, table))
        limit = base.row_ub[rows]
        slack_ub, cost = np.zeros(size), np.zeros(size)
        slack_ub[keys] = np.inf
        cost[keys] = 1.0 / _scale(limit)
        columns.append(_Columns(f"slack_{family}", table, slack_ub, cost))
        entries.append((np.arange(rows.start, rows.stop), start + keys, -np.ones(len(keys))))
        start += size
    return _extend(base, columns, (), entries)


def _scale(limit: np.ndarray) -> np.ndarray:
    """What a slack is measured against: its limit, or 1 where the limit is 0."""
    return np.where(limit > 0, limit, 1.0)


def _with_rows(model: LinearModel, families: Sequence[str]) -> list[str]:
    """The families of `families` that have rows in `model`."""
    present = (f for f in families if f in model.families)
    return [f for f in present if model.families[f].stop > model.families[f].start]


def _extend(
    model: LinearModel,
    columns: Sequence[_Columns],
    rows: Sequence[RowBlock] = (),
    entries: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]] = (),
) -> LinearModel:
    """`model` with new column blocks (the objective is theirs alone), new row families
    (their col numbers absolute), and new (row, col, val) entries in existing rows."""
    blocks, start = list(model.layout.blocks), model.n_variables
    for c in columns:
        blocks.append(Block(c.name, start, len(c.ub), c.over))
        start += len(c.ub)
    n_new = start - model.n_variables
    starts = model.n_constraints + np.cumsum([0] + [b.n_rows for b in rows])
    row = np.concatenate(
        [
            model.row,
            *(b.row + s for b, s in zip(rows, starts, strict=False)),
            *(e[0] for e in entries),
        ]
    )
    col = np.concatenate([model.col, *(b.col for b in rows), *(e[1] for e in entries)])
    val = np.concatenate([model.val, *(b.val for b in rows), *(e[2] for e in entries)])
    order = np.lexsort((col, row))
    return dataclasses.replace(
        model,
        layout=VariableLayout(tuple(blocks)),
        lb=np.concatenate([model.lb, np.zeros(n_new)]),
        ub=np.concatenate([model.ub, *(c.ub for c in columns)]),
        integer=np.concatenate([model.integer, np.zeros(n_new, dtype=bool)]),
        objective=np.concatenate([np.zeros(model.n_variables), *(c.cost for c in columns)]),
        objective_offset=0.0,
        row=row[order].astype(np.int64),
        col=col[order].astype(np.int64),
        val=val[order],
        row_lb=np.concatenate([model.row_lb, *(b.lb for b in rows)]),
        row_ub=np.concatenate([model.row_ub, *(b.ub for b in rows)]),
        families=model.families
        | {b.name: slice(int(s), int(s + b.n_rows)) for b, s in zip(rows, starts, strict=False)},
        row_over=model.row_over | {b.name: (b.over, b.keys) for b in rows},
    )


# --- reading the re-solves ------------------------------------------------------------------


def _short_workloads(index: ModelIndex, elastic: LinearModel, x: np.ndarray) -> pd.DataFrame:
    """Workloads below their minimum in the shortfall re-solve, a row per (workload, period)
    short: its `wk` row, name, period `k`, needed and served shares."""
    m = elastic.layout.block("m")  # over `wk`: one minimum per workload and period
    short = np.flatnonzero(x[elastic.layout.block("shortfall").slice] > TOLERANCE)
    need = 1.0 - elastic.row_ub[elastic.families["minimum"]]
    return pd.DataFrame(
        {
            "wk": short,
            "workload": ids_of(index, m.over, short)["workload"].to_numpy(),
            "k": index.wk["k"].to_numpy()[short],
            "need": need[short],
            "got": 1.0 - x[m.slice][short],
        }
    )


def _shortages(
    index: ModelIndex, elastic: LinearModel, x: np.ndarray, limits: Sequence[str]
) -> pd.DataFrame:
    """The limits short in the slack re-solve, most short (relative to the limit) first:
    family, ids, amount, limit and the sentence that says it."""
    frames = []
    for family in _with_rows(elastic, limits):
        table, keys = elastic.row_over[family]
        amount = x[elastic.layout.col(f"slack_{family}", keys)]
        limit = elastic.row_ub[elastic.families[family]]
        short = amount > TOLERANCE * np.maximum(np.abs(limit), 1.0)
        frames.append(
            ids_of(index, table, keys[short]).assign(
                family=family, amount=amount[short], limit=limit[short]
            )
        )
        frames[-1]["k"] = getattr(index, table)["k"].to_numpy()[keys[short]]
    found = pd.concat(frames, ignore_index=True)
    relative = found["amount"].to_numpy() / _scale(found["limit"].to_numpy())
    found = found.iloc[np.argsort(-relative, kind="stable")]
    found["text"] = [
        _shortage_text(family, ids, amount, limit, _in_year(index, k))
        for family, ids, amount, limit, k in zip(
            found["family"],
            found[["site", "rack_type", "workload", "phase"]].to_dict("records"),
            found["amount"],
            found["limit"],
            found["k"],
            strict=True,
        )
    ]
    return found.reset_index(drop=True)


def _unservable(index: ModelIndex) -> np.ndarray:
    """Why a workload cannot be served at all in a period, per `wk` row ("" where it can):
    no site it may use has racks for every phase it has demand in that period, within its
    SLO."""
    needed = index.wp.groupby("wk").size()
    at_site = index.y[["s", "w", "p", "k"]].drop_duplicates()
    at_site = at_site.assign(wk=at_site["k"] * index.n_workloads + at_site["w"])
    covered = at_site.groupby(["s", "wk"]).size()
    whole = covered.to_numpy() == needed.reindex(covered.index.get_level_values("wk")).to_numpy()
    servable = np.unique(covered.index.get_level_values("wk")[whole])
    anywhere = index.y[["w", "p", "k"]].drop_duplicates()
    missing = index.wp[["w", "p", "k", "wk"]].merge(anywhere, how="left", indicator=True)
    missing = missing[missing["_merge"] == "left_only"].groupby("wk")["p"].agg(list)
    reasons = np.full(len(index.wk), "", dtype=object)
    for wk in needed.index.difference(servable):
        reasons[wk] = (
            f"no rack at any site it may use can serve its {_phases(missing[wk])} within its SLO"
            if wk in missing.index
            else "no site it may use has racks for all its phases within its SLO"
        )
    return reasons


# --- wording --------------------------------------------------------------------------------


def _explain(
    index: ModelIndex,
    short: pd.DataFrame,
    shortages: pd.DataFrame | None,
    *,
    whose: str,
    why_none: str,
) -> str:
    """One workload below its minimum: a sentence naming the limits that hold it back.
    Several: a sentence each (their split at the least total shortfall), then the short
    limits once."""
    alone = len(short) == 1
    related = _related(index, shortages if shortages is not None else _NO_SHORTAGES)
    regions = index.workloads.set_index("workload")["region_list"]
    sentences = []
    for row in short.head(MAX_LISTED).itertuples():
        need, got = _percents(row.need, row.got)
        head = f"workload {row.workload} needs {need} served{_in_year(index, row.k)} but "
        if row.unservable:
            sentences.append(head + row.unservable)
            continue
        mine = None
        if shortages is not None:
            mine = shortages.loc[_of(related, row.workload, row.k)]
        families = set(mine["family"]) if mine is not None else set()
        verb = LIMITS[families.pop()].verb if len(families) == 1 else ANY_LIMIT_VERB
        sentence = (
            f"{head}{whose}{_in_regions(regions[row.workload])} {verb}"
            f" {'at most ' if alone else ''}{got} of it"
        )
        if alone and mine is None:
            sentence += f": {why_none}"
        elif alone and mine is not None and len(mine):
            sentence += f": {_list(mine['text'])}"
        sentences.append(sentence)
    what = "workload-years" if index.multi_period else "workloads"
    if len(short) > MAX_LISTED:
        sentences.append(f"and {len(short) - MAX_LISTED} more {what} below their minimum")
    if shortages is None and not alone and (short["unservable"] == "").any():
        sentences.append(why_none)
    if shortages is not None:
        named = _of(related, short["workload"].iloc[0], short["k"].iloc[0])
        rest = shortages.drop(index=named.unique()) if alone else shortages
        if len(rest):
            sentences.append(f"{'also ' if alone else ''}short: {_list(rest['text'])}")
    prefix = (
        ""
        if alone
        else f"the least total shortfall leaves {len(short)} {what} below their min_served_share: "
    )
    return prefix + "; ".join(sentences)


_NO_SHORTAGES = pd.DataFrame({"family": [], "site": [], "rack_type": []})


def _of(related: pd.DataFrame, workload: str, k: int) -> pd.Series:
    """The shortages (their rows in the shortages table) related to a workload in period k."""
    return related.loc[(related["workload"] == workload) & (related["k"] == k), "shortage"]


def _related(index: ModelIndex, shortages: pd.DataFrame) -> pd.DataFrame:
    """(workload, k, shortage) triples: the short limit is at a site or of a rack type (or
    both) that can serve the workload, in the same period."""
    serving = ids_of(index, "y", np.arange(len(index.y))).assign(k=index.y["k"].to_numpy())
    parts = [pd.DataFrame({"workload": [], "k": [], "shortage": []})]
    for _, group in shortages.groupby("family", sort=False):
        keys = [c for c in ("site", "rack_type") if group[c].notna().all()] + ["k"]
        pairs = serving[["workload", *keys]].drop_duplicates()
        parts.append(pairs.merge(group[keys].reset_index(names="shortage"), on=keys))
    return pd.concat(parts, ignore_index=True)[["workload", "k", "shortage"]]


def _shortage_text(family: str, ids: dict[str, str], amount: float, limit: float, year: str) -> str:
    wording = LIMITS[family]
    return (
        f"{wording.who.format(**ids)} is short of {_amount(amount)} {wording.unit}{year}"
        f" ({wording.limit.format(value=_amount(limit))})"
    )


def _in_year(index: ModelIndex, k: int) -> str:
    """' in 2030' for period k of a case with periods; '' for a steady-state year."""
    return f" in {index.periods['period'].iloc[k]}" if index.multi_period else ""


def _no_diagnosis(what: str, solution: Solution) -> str:
    why = f": {solution.message}" if solution.message else ""
    return f"no diagnosis: {what} ended {solution.status.value}{why}"


def _in_regions(regions: tuple[str, ...]) -> str:
    if not regions:
        return ""
    return f" in region{'s' if len(regions) > 1 else ''} {', '.join(regions)}"


def _phases(codes: list[int]) -> str:
    names = [PHASES[p] for p in sorted(codes)]
    return f"{' and '.join(names)} phase{'s' if len(names) > 1 else ''}"


def _list(texts: Sequence[str]) -> str:
    texts = list(texts)
    more = len(texts) - MAX_LISTED
    return ", ".join(texts[:MAX_LISTED]) + (f" and {more} more" if more > 0 else "")


def _percents(need: float, got: float) -> tuple[str, str]:
    """Both shares as percentages, with as few decimals as keep them apart."""
    for digits in range(4):
        texts = f"{need:.{digits}%}", f"{max(got, 0.0):.{digits}%}"
        if texts[0] != texts[1]:
            break
    return texts


def _amount(value: float) -> str:
    """A quantity to three significant digits, plainly written: 12.5, 0.8, 1,250."""
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    digits = max(0, 2 - math.floor(math.log10(abs(value))))
    text = f"{round(value, digits):,.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text
