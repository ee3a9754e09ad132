"""The case format as data: every table's columns and every case.yaml key, with types,
defaults, ranges, allowed values, ids and references (docs/model.md section 1).

`fleetopt.io.case` reads and checks files against these specs; nothing else in fleetopt
re-checks inputs, so a rule that is not written here is not enforced anywhere.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass


class ColumnType(enum.StrEnum):
    """How a cell's text becomes a value."""

    STR = "str"  # free text, stripped
    FLOAT = "float"  # a finite number (inf only where the default is unlimited)
    INT = "int"  # a whole number, stored as float64 so that unlimited can be inf
    BOOL = "bool"  # true/false, yes/no, 1/0 (any case)
    CHOICE = "choice"  # one of `choices`, exactly as written there
    REGIONS = "regions"  # `*` or `a;b;c`; also yields a `region_list` tuple column


@dataclass(frozen=True)
class Range:
    """An interval a number must lie in; None on a side means unbounded there."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False  # True: low itself is excluded
    high_open: bool = False

    def contains(self, value: float) -> bool:
        """Whether `value` lies in the interval (for a single value; tables use `mask`)."""
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return not (
            self.high is not None and (value >= self.high if self.high_open else value > self.high)
        )

    def describe(self) -> str:
        """The rule as a planner reads it: '> 0', '>= 1', 'in (0, 1]'."""
        if self.low is not None and self.high is not None:
            left = "(" if self.low_open else "["
            right = ")" if self.high_open else "]"
            return f"in {left}{format_number(self.low)}, {format_number(self.high)}{right}"
        if self.low is not None:
            return f"{'>' if self.low_open else '>='} {format_number(self.low)}"
        if self.high is not None:
            return f"{'<' if self.high_open else '<='} {format_number(self.high)}"
        return "any number"


POSITIVE = Range(low=0, low_open=True)
NON_NEGATIVE = Range(low=0)
SHARE = Range(low=0, high=1)  # [0, 1]
OPEN_SHARE = Range(low=0, high=1, low_open=True)  # (0, 1]

UNLIMITED = math.inf


def positive(high: float) -> Range:
    """(0, high]: a positive quantity with a plausible ceiling for its unit."""
    return Range(low=0, high=high, low_open=True)


def up_to(high: float) -> Range:
    """[0, high]."""
    return Range(low=0, high=high)


# Ceilings beyond which a value is a typo or a unit slip, not a plan (docs/case-format.md).
# Demand: 1e11 tokens/s is some 200x the whole industry's inference traffic of 2025.
DEMAND = up_to(1e11)
DEMAND_COLUMNS: tuple[str, str] = ("prefill_tokens_per_s", "decode_tokens_per_s")  # by phase
PENALTY = up_to(1e6)  # USD per million tokens
YEAR = Range(low=1900, high=2200)  # a calendar year (docs/model.md section 8)
SINCE_ALWAYS = -math.inf  # available_from left blank: from the first period
SHORTFALL_PENALTY = positive(1e7)  # USD per million tokens below a minimum served share
CAPEX_PREMIUM = up_to(100)  # a recourse rack's price over capex_usd, as a share: 100 = 101x


@dataclass(frozen=True)
class FromCase:
    """A default taken from a case.yaml key (e.g. a workload's unmet penalty)."""

    key: str


@dataclass(frozen=True)
class Column:
    """One column of a case table.

    A column without a default is required: it must be in the header and no cell may be
    blank. `required_when=(column, value)` makes a column required only on the rows where
    `column == value`; on the other rows its value is dropped (NaN), as the model ignores it.
    """

    name: str
    type: ColumnType
    default: object = None  # None: required; math.inf: unlimited; FromCase: from case.yaml
    range: Range | None = None
    choices: tuple[str, ...] = ()
    required_when: tuple[str, str] | None = None
    meaning: str = ""

    @property
    def required(self) -> bool:
        """Whether the column must be present and non-blank on every row."""
        return self.default is None and self.required_when is None


@dataclass(frozen=True)
class Reference:
    """Values of `column` must appear in `table.target`; `message` formats with {value}."""

    column: str
    table: str
    target: str
    message: str


@dataclass(frozen=True)
class TableSpec:
    """One case table: its file stem, its columns in docs/model.md order, and its rules."""

    stem: str
    columns: tuple[Column, ...]
    required: bool = True  # the file must exist
    allow_empty: bool = False  # a header without rows is fine
    unique: tuple[str, ...] = ()  # no two rows may agree on all of these (after parsing)
    row_id: tuple[str, ...] = ()  # columns that name a row in messages
    references: tuple[Reference, ...] = ()

    def column(self, name: str) -> Column:
        """The spec of column `name`."""
        return next(c for c in self.columns if c.name == name)

    @property
    def names(self) -> tuple[str, ...]:
        """Column names in docs/model.md order."""
        return tuple(c.name for c in self.columns)


RACK_KINDS = ("gpu", "lpu", "cpu", "wafer", "other")
COOLING = ("air", "liquid")
PHASES = ("prefill", "decode")
PRECISIONS = ("fp8", "fp4")  # the weights' format a model is served in
LENGTH = positive(1e7)  # tokens per request
NOT_GIVEN = math.nan  # isl / osl left blank: the throughput rows' own lengths
# What ties a workload to its throughput rows: the model, the tokens per request and the
# precision it is served at (blank lengths and precision on both sides: a v1 case).
SERVING_KEY: tuple[str, ...] = ("model", "isl", "osl", "precision")
# The optional serving-key columns workloads.csv and throughput.csv share (docs/model.md section 1).
SERVING_COLUMNS: tuple[Column, ...] = (
    Column("isl", ColumnType.INT, NOT_GIVEN, LENGTH, meaning="input tokens per request"),
    Column("osl", ColumnType.INT, NOT_GIVEN, LENGTH, meaning="output tokens per request"),
    Column(
        "precision", ColumnType.CHOICE, "", choices=PRECISIONS, meaning="weights' format served"
    ),
)
ALL_REGIONS = "*"
REGION_SEPARATOR = ";"
REGION_LIST = "region_list"  # the column added next to workloads.regions

C = ColumnType

RACKS = TableSpec(
    stem="racks",
    columns=(
        Column("rack_type", C.STR, meaning="id, e.g. vr-nvl72"),
        Column("kind", C.CHOICE, choices=RACK_KINDS, meaning="family"),
        Column("capex_usd", C.FLOAT, range=positive(1e9), meaning="purchase price of one rack"),
        Column("lifetime_years", C.FLOAT, range=positive(50), meaning="depreciation life"),
        Column("power_kw", C.FLOAT, range=positive(1e4), meaning="IT power at full load"),
        Column("idle_power_frac", C.FLOAT, 0.3, SHARE, meaning="idle draw / power_kw"),
        Column("opex_usd_per_year", C.FLOAT, 0.0, up_to(1e9), meaning="yearly opex per rack"),
        Column("slots", C.FLOAT, 1.0, positive(1e4), meaning="floor positions one rack takes"),
        Column("cooling", C.CHOICE, "air", choices=COOLING, meaning="air or liquid"),
        Column("max_count", C.INT, UNLIMITED, up_to(1e8), meaning="supply limit, all sites"),
        Column(
            "throughput_sigma",
            C.FLOAT,
            FromCase("uncertainty.throughput.sigma"),
            up_to(2),
            meaning="sigma of the rack type's lognormal throughput factor in scenarios",
        ),
        Column(
            "available_from", C.INT, SINCE_ALWAYS, YEAR, meaning="first year new ones enter service"
        ),
        Column(
            "available_until", C.INT, UNLIMITED, YEAR, meaning="last year new ones enter service"
        ),
        Column("lead_time_years", C.FLOAT, 0.0, up_to(20), meaning="order to service, years"),
        Column(
            "capex_change_per_year",
            C.FLOAT,
            0.0,
            Range(low=-1, high=1, low_open=True),
            meaning="yearly change of capex_usd, compounded from year 0",
        ),
        Column(
            "max_new_per_period",
            C.INT,
            UNLIMITED,
            up_to(1e8),
            meaning="new racks entering service per period, all sites",
        ),
    ),
    unique=("rack_type",),
    row_id=("rack_type",),
)

SITES = TableSpec(
    stem="sites",
    columns=(
        Column("site", C.STR, meaning="id"),
        Column("region", C.STR, meaning="where it is; workloads name regions"),
        Column("power_cap_mw", C.FLOAT, range=positive(1e5), meaning="facility power cap"),
        Column("pue", C.FLOAT, 1.2, Range(low=1, high=5), meaning="power usage effectiveness"),
        Column("energy_usd_per_mwh", C.FLOAT, range=up_to(1e5), meaning="electricity price"),
        Column("max_slots", C.INT, UNLIMITED, up_to(1e8), meaning="floor positions"),
        Column("liquid_cooling", C.BOOL, False, meaning="can host liquid-cooled racks"),
    ),
    unique=("site",),
    row_id=("site",),
)

WORKLOADS = TableSpec(
    stem="workloads",
    columns=(
        Column("workload", C.STR, meaning="id"),
        Column("model", C.STR, meaning="key into throughput.csv"),
        Column("regions", C.REGIONS, ALL_REGIONS, meaning="regions whose sites may serve it"),
        Column("prefill_tokens_per_s", C.FLOAT, range=DEMAND, meaning="input tokens/s"),
        Column("decode_tokens_per_s", C.FLOAT, range=DEMAND, meaning="output tokens/s"),
        Column("min_user_tps", C.FLOAT, 0.0, up_to(1e5), meaning="SLO: per-user decode speed"),
        Column(
            "max_ttft_ms", C.FLOAT, UNLIMITED, positive(1e8), meaning="SLO: time to first token"
        ),
        Column("load_factor", C.FLOAT, 1.0, OPEN_SHARE, meaning="average / provisioned demand"),
        Column(
            "unmet_penalty_usd_per_mtok",
            C.FLOAT,
            FromCase("unmet_penalty_usd_per_mtok"),
            PENALTY,
            meaning="price of a million demanded tokens not served",
        ),
        Column("min_served_share", C.FLOAT, 0.0, SHARE, meaning="share that must be served"),
        Column(
            "growth_per_year",
            C.FLOAT,
            0.0,
            Range(low=-1, high=10, low_open=True),
            meaning="compound demand growth from year 0",
        ),
        *SERVING_COLUMNS,
    ),
    unique=("workload",),
    row_id=("workload",),
    references=(
        Reference("model", "throughput", "model", "no row in throughput.csv for model {value!r}"),
    ),
)

THROUGHPUT = TableSpec(
    stem="throughput",
    columns=(
        Column("rack_type", C.STR, meaning="key into racks.csv"),
        Column("model", C.STR, meaning="model id"),
        Column("phase", C.CHOICE, choices=PHASES),
        Column("tokens_per_s", C.FLOAT, range=positive(1e10), meaning="tokens/s one rack delivers"),
        Column(
            "user_tps",
            C.FLOAT,
            range=positive(1e6),
            required_when=("phase", "decode"),
            meaning="decode rows: per-user decode speed",
        ),
        Column("ttft_ms", C.FLOAT, 0.0, positive(1e8), meaning="prefill rows: time to first token"),
        Column("source", C.STR, "", meaning="where the figure comes from"),
        *SERVING_COLUMNS,
    ),
    unique=("rack_type", "model", "phase", "user_tps", "ttft_ms", "isl", "osl", "precision"),
    row_id=("rack_type", "model", "phase"),
    references=(
        Reference(
            "rack_type", "racks", "rack_type", "unknown rack type {value!r}: not in racks.csv"
        ),
    ),
)

INSTALLED = TableSpec(
    stem="installed",
    columns=(
        Column("site", C.STR, meaning="key into sites.csv"),
        Column("rack_type", C.STR, meaning="key into racks.csv"),
        Column("count", C.INT, range=up_to(1e8), meaning="racks already owned"),
        Column("retire_year", C.INT, UNLIMITED, YEAR, meaning="last year in service"),
    ),
    required=False,
    allow_empty=True,
    unique=("site", "rack_type", "retire_year"),
    row_id=("site", "rack_type"),
    references=(
        Reference("site", "sites", "site", "unknown site {value!r}: not in sites.csv"),
        Reference(
            "rack_type", "racks", "rack_type", "unknown rack type {value!r}: not in racks.csv"
        ),
    ),
)

FROM_SITE = math.nan  # a site_periods value left blank: the site's own

SITE_PERIODS = TableSpec(
    stem="site_periods",
    columns=(
        Column("site", C.STR, meaning="key into sites.csv"),
        Column("period", C.INT, range=YEAR, meaning="a year of case.yaml periods"),
        Column("power_cap_mw", C.FLOAT, FROM_SITE, positive(1e5), meaning="cap in that period"),
        Column(
            "energy_usd_per_mwh", C.FLOAT, FROM_SITE, up_to(1e5), meaning="price in that period"
        ),
    ),
    required=False,
    allow_empty=True,
    unique=("site", "period"),
    row_id=("site", "period"),
    references=(Reference("site", "sites", "site", "unknown site {value!r}: not in sites.csv"),),
)

WORKLOAD_PERIODS = TableSpec(
    stem="workload_periods",
    columns=(
        Column("workload", C.STR, meaning="key into workloads.csv"),
        Column("period", C.INT, range=YEAR, meaning="a year of case.yaml periods"),
        Column(
            "demand_multiplier", C.FLOAT, range=up_to(1e4), meaning="x the workloads.csv demand"
        ),
    ),
    required=False,
    allow_empty=True,
    unique=("workload", "period"),
    row_id=("workload", "period"),
    references=(
        Reference(
            "workload", "workloads", "workload", "unknown workload {value!r}: not in workloads.csv"
        ),
    ),
)

TABLES: tuple[TableSpec, ...] = (
    RACKS,
    SITES,
    WORKLOADS,
    THROUGHPUT,
    INSTALLED,
    SITE_PERIODS,
    WORKLOAD_PERIODS,
)
# The inputs of multi-period procurement (docs/model.md section 8): a case without `periods`
# must leave these columns at their defaults and these tables empty.
PERIOD_COLUMNS: dict[str, tuple[str, ...]] = {
    "racks": (
        "available_from",
        "available_until",
        "lead_time_years",
        "capex_change_per_year",
        "max_new_per_period",
    ),
    "installed": ("retire_year",),
    "workloads": ("growth_per_year",),
}
PERIOD_TABLES: tuple[str, ...] = ("site_periods", "workload_periods")
TABLE_FORMATS = ("csv", "parquet")
CASE_FILE = "case.yaml"
CASE_FILES = (CASE_FILE, *(f"{t.stem}.{fmt}" for t in TABLES for fmt in TABLE_FORMATS))


# --- case.yaml ------------------------------------------------------------------------


class Objective(enum.StrEnum):
    """What the solve minimizes (docs/model.md section 4)."""

    MIN_COST = "min_cost"
    MIN_COST_PER_TOKEN = "min_cost_per_token"


class SolverName(enum.StrEnum):
    """MILP solvers offered; CP-SAT is refused (see CP_SAT_REFUSAL)."""

    HIGHS = "highs"
    SCIP = "scip"


CP_SAT_NAMES = frozenset({"cp_sat", "sat", "cpsat", "cp-sat"})
CP_SAT_REFUSAL = (
    "CP-SAT is refused: its continuous-variable support is experimental and it is not safe "
    "for these mixed-integer models (it returned INFEASIBLE on feasible fleet models); "
    "use highs (default) or scip"
)


class FieldType(enum.StrEnum):
    """Types of case.yaml values."""

    TEXT = "text"
    NUMBER = "number"
    INTEGER = "integer"
    CHOICE = "choice"
    YEARS = "years"  # a list of years: strictly increasing, equally spaced


@dataclass(frozen=True)
class Field:
    """One case.yaml leaf key, named by its dotted path."""

    type: FieldType
    default: object
    range: Range | None = None
    choices: tuple[str, ...] = ()
    refused: frozenset[str] = frozenset()  # values (any case) refused with `refusal`
    refusal: str = ""


F = FieldType

MAX_TIME_LIMIT_S = 1e7  # about 116 days: beyond it a limit is a typo, not a plan
MAX_SOLVER_SEED = 2**31 - 1  # the solvers take a 32-bit signed seed
MAX_SCENARIO_SEED = 2**32 - 1

SOLVER_FIELDS: dict[str, Field] = {
    "name": Field(
        F.CHOICE,
        SolverName.HIGHS.value,
        choices=tuple(SolverName),
        refused=CP_SAT_NAMES,
        refusal=CP_SAT_REFUSAL,
    ),
    "time_limit_s": Field(F.NUMBER, 60.0, Range(0, MAX_TIME_LIMIT_S, low_open=True)),
    "relative_gap": Field(F.NUMBER, 1e-6, Range(0, 1, high_open=True)),
    "threads": Field(F.INTEGER, 0, Range(0, 1024)),
    "seed": Field(F.INTEGER, 0, Range(0, MAX_SOLVER_SEED)),
}

# Dotted key -> spec; the attribute name in fleetopt.case.Uncertainty is in UNCERTAINTY_ATTRS.
UNCERTAINTY_FIELDS: dict[str, Field] = {
    "seed": Field(F.INTEGER, 0, Range(0, MAX_SCENARIO_SEED)),
    "demand.growth.median": Field(F.NUMBER, 1.0, positive(100)),
    "demand.growth.sigma": Field(F.NUMBER, 0.0, up_to(2)),
    "demand.workload_sigma": Field(F.NUMBER, 0.0, up_to(2)),
    "energy_price.sigma": Field(F.NUMBER, 0.0, up_to(2)),
    "power_cap.probability": Field(F.NUMBER, 0.0, SHARE),
    "power_cap.derate": Field(F.NUMBER, 0.0, SHARE),
    "supply.probability": Field(F.NUMBER, 0.0, SHARE),
    "supply.cut": Field(F.NUMBER, 0.0, SHARE),
    "throughput.sigma": Field(F.NUMBER, 0.0, up_to(2)),
}
UNCERTAINTY_ATTRS: dict[str, str] = {
    "seed": "seed",
    "demand.growth.median": "growth_median",
    "demand.growth.sigma": "growth_sigma",
    "demand.workload_sigma": "workload_sigma",
    "energy_price.sigma": "energy_sigma",
    "power_cap.probability": "power_cap_probability",
    "power_cap.derate": "power_cap_derate",
    "supply.probability": "supply_probability",
    "supply.cut": "supply_cut",
    "throughput.sigma": "throughput_sigma",
}

CASE_FIELDS: dict[str, Field] = {
    "name": Field(F.TEXT, None),  # None: the case folder's name
    "objective": Field(F.CHOICE, Objective.MIN_COST.value, choices=tuple(Objective)),
    "discount_rate": Field(F.NUMBER, 0.0, SHARE),
    "unmet_penalty_usd_per_mtok": Field(F.NUMBER, 100.0, PENALTY),
    "max_utilization": Field(F.NUMBER, 1.0, OPEN_SHARE),
    "periods": Field(F.YEARS, None, YEAR),  # None: one steady-state year (no periods)
    # Two-stage stochastic runs (docs/model.md section 9); None: 10x each workload's unmet penalty.
    "shortfall_penalty_usd_per_mtok": Field(F.NUMBER, None, SHORTFALL_PENALTY),
    # None: no recourse purchases (only operations adapt to a scenario).
    "recourse.capex_premium": Field(F.NUMBER, None, CAPEX_PREMIUM),
    **{f"solver.{k}": v for k, v in SOLVER_FIELDS.items()},
    **{f"uncertainty.{k}": v for k, v in UNCERTAINTY_FIELDS.items()},
}


def format_number(value: float) -> str:
    """A number as a planner wrote it: -210 rather than -210.0, 0.5, 1e-07, inf."""
    if math.isfinite(value) and abs(value) >= 1e6 and float(f"{value:g}") == value:
        return f"{value:g}"  # 1e+11 rather than 100000000000
    if math.isfinite(value) and float(value).is_integer():
        return str(int(value))
    return repr(float(value))
