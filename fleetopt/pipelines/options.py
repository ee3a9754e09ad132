"""What each command is asked to do, one typed object per concern, built once (by the CLI or
a Ray job, fleetopt.cli.options) and passed down whole, never copied field by field.

- `FarmSettings`: how scenarios are farmed out (workers, chunk size, cluster);
- `ScenarioOptions`: every scenario run's (how many scenarios, which seed, the farm, and
  whether an earlier run of other parameters may be replaced);
- `RobustOptions`: how robust selection chooses: its criterion is a risk measure (the mean,
  or CVaR at `alpha`);
- `StochasticSettings`: how the two-stage program is solved (its risk measure, its stopping
  rule, the out-of-sample check, the multiple-replication procedure's batches).

An option added later (replications, a hedged nightly answer) is a field of the object it
belongs to and one option definition in fleetopt.cli.options.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Sequence
from dataclasses import dataclass, field

from fleetopt.core import defaults
from fleetopt.io.case import Case
from fleetopt.io.schema import MAX_SCENARIO_SEED
from fleetopt.model.reliability import ReliabilityTarget
from fleetopt.model.risk import MEAN, Risk
from fleetopt.parallel.farm import Chunk, auto_chunk, chunks_of
from fleetopt.solve.benders import Cuts
from fleetopt.solve.hedging import HedgingSettings


class Criterion(enum.StrEnum):
    """How robust selection ranks candidate plans by total cost."""

    MEAN = "mean"
    CVAR = "cvar"


class Method(enum.StrEnum):
    """How the two-stage program is solved."""

    EF = "ef"  # the extensive form: one MILP
    PH = "ph"  # progressive hedging on Ray actors
    BENDERS = "benders"  # the L-shaped method, subproblems on Ray actors
    AUTO = "auto"  # by size: ef up to EF_MAX_COLUMNS columns, else benders


@dataclass(frozen=True)
class FarmSettings:
    """How scenarios are farmed out: how many at once, chunk size, which cluster.

    `chunk` is a count of scenarios per task, or `defaults.AUTO`: chunks sized to the
    scenarios left and the workers, shrinking towards the end (parallel.farm.auto_chunk).
    """

    workers: int = defaults.WORKERS
    chunk: int | str = defaults.CHUNK
    address: str | None = None

    def chunks(self, scenarios: Sequence[int]) -> list[Chunk]:
        """The chunks to solve `scenarios` (those left of a run) in."""
        if self.chunk == defaults.AUTO:
            return chunks_of(scenarios, lambda left: auto_chunk(left, self.workers))
        return chunks_of(scenarios, int(self.chunk))


@dataclass(frozen=True)
class ScenarioOptions:
    """What every scenario run shares: scenarios 0..`scenarios`-1 of the case's seed (or
    `seed`), farmed out by `farm`; `overwrite` lets it replace an earlier run of the same
    kind with other parameters."""

    scenarios: int = defaults.SCENARIOS
    seed: int | None = None
    farm: FarmSettings = field(default_factory=FarmSettings)
    overwrite: bool = False

    def seeded(self, case: Case) -> Case:
        """The case with its uncertainty seed replaced by `seed` (None keeps it)."""
        if self.seed is None:
            return case
        return case.replace(uncertainty=dataclasses.replace(case.uncertainty, seed=self.seed))


@dataclass(frozen=True)
class FarmRun:
    """What a farmed run that samples no futures shares (what-if variants, alternatives):
    the farm, and whether an earlier run of the same kind with other parameters may be
    replaced."""

    farm: FarmSettings = field(default_factory=FarmSettings)
    overwrite: bool = False

    def seeded(self, case: Case) -> Case:
        """The case as given: such a run draws no scenarios."""
        return case


@dataclass(frozen=True)
class AlternativesAsk:
    """What an alternatives run looks for (docs/model.md section 12): `k` plans within
    (1 + `slack`) of the optimum; random directions from `seed` (None: the case's
    uncertainty seed)."""

    slack: float = 0.05
    k: int = 4
    seed: int | None = None


@dataclass(frozen=True)
class RobustOptions:
    """How robust selection chooses: by the mean, or CVaR at `alpha`, of total cost over
    the scenarios, among `candidates` sweep plans; with `shortfall`, candidates pay for a
    share short of a minimum instead of failing (docs/model.md section 9)."""

    criterion: Criterion = Criterion.MEAN
    alpha: float = defaults.ALPHA
    candidates: int = defaults.CANDIDATES
    shortfall: bool = False

    @property
    def risk(self) -> Risk:
        """The criterion as a risk measure (CVaR: weight 1)."""
        return Risk(weight=1.0 if self.criterion is Criterion.CVAR else 0.0, alpha=self.alpha)


@dataclass(frozen=True)
class StochasticSettings:
    """How to solve the two-stage program and what to check it on: its risk measure, when
    to stop (the certified gap, iterations, time: fleetopt.solve.hedging.HedgingSettings,
    the extensive form's and Benders' too), Benders' cuts, the out-of-sample scenarios, a
    reliability target with its trade-off curve (docs/model.md section 9, "Reliability
    targets": `reliability` on the plan, one plan per target of `shortfall_curve`), and
    `replications`, the batches of the multiple-replication procedure that tells whether
    the scenarios suffice (0: off, else at least 2)."""

    method: Method = Method.AUTO
    risk: Risk = MEAN
    stop: HedgingSettings = field(default_factory=HedgingSettings)
    cuts: Cuts = Cuts.MULTI  # Benders: one cut per scenario, or one aggregated
    out_of_sample: int = 100
    out_of_sample_seed: int | None = None  # default: the run's seed + 1
    reliability: ReliabilityTarget | None = None
    shortfall_curve: tuple[ReliabilityTarget, ...] = ()
    replications: int = 0

    @property
    def couples_scenarios(self) -> bool:
        """Whether a target couples the scenarios (extensive form only)."""
        return self.reliability is not None or bool(self.shortfall_curve)

    def oos_seed(self, seed: int) -> int:
        if self.out_of_sample_seed is not None:
            return self.out_of_sample_seed
        return (seed + 1) % (MAX_SCENARIO_SEED + 1)
