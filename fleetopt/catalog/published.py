"""Published throughput figures of sources other than InferenceX: the catalog's published.csv.

One row per published figure, each with its source (`tensorrt-llm`, `nvidia-nim`,
`oci-blog`, `amd-rocm`), page URL and date, and the deployment it measures: hardware,
model, serving engine, precision (the weights' format), parallelism, input/output tokens
per request, and its regime:

- `offline`: maximum throughput, every request queued at once (trtllm-bench, vLLM's
  benchmark_throughput); `output_tps_per_gpu` is the figure, no per-user speed; `conc`,
  where the page gives it, is the engine's cap on requests in flight (vLLM's
  `--max-num-seqs`);
- `online`: a fixed number of concurrent requests (`conc`), with the per-user decode
  speed measured (`user_tps`) and, where published, the median time to first token.

`output_tps_per_gpu` is output tokens per second divided by every GPU of the deployment
(each row's `note` says how the page's own unit was converted). The calibration
(fleetopt.catalog.calibration) replays every row like an InferenceX point and reports
the model's error per source, fitted and left out (docs/performance.md).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from fleetopt.catalog.perf import read_checked
from fleetopt.core.errors import Problem

PUBLISHED_COLUMNS: tuple[str, ...] = (
    "source",
    "hardware",
    "model",
    "framework",
    "precision",
    "regime",
    "parallelism",
    "instance_gpus",
    "dp_attention",
    "isl",
    "osl",
    "conc",
    "ttft_ms",
    "user_tps",
    "output_tps_per_gpu",
    "date",
    "url",
    "note",
)
REGIMES: tuple[str, ...] = ("offline", "online")
PRECISIONS: tuple[str, ...] = ("fp8", "fp4")
# A publication date as precise as the page gives it: a year, a month or a day.
_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")
_POSITIVE = ("instance_gpus", "isl", "osl", "output_tps_per_gpu")
_ONLINE_POSITIVE = ("conc", "user_tps")


def load_published(path: str | Path | None = None) -> pd.DataFrame:
    """Read published.csv (default: the catalog's) and check it; CaseError lists every problem."""
    return read_checked(path, "published.csv", _check).astype({"dp_attention": bool})


def _check(table: pd.DataFrame, name: str) -> list[Problem]:
    """Columns present, allowed values, figures positive, every row sourced (URL and date)."""
    missing = [c for c in PUBLISHED_COLUMNS if c not in table.columns]
    if missing:
        return [Problem(name, f"missing column(s): {', '.join(missing)}")]
    problems: list[Problem] = []

    def bad(mask: np.ndarray, column: str, message: str) -> None:
        problems.extend(
            Problem(name, message, i + 1, column=column) for i in map(int, np.flatnonzero(mask))
        )

    online = (table["regime"] == "online").to_numpy()
    for col in _POSITIVE:
        bad(~(pd.to_numeric(table[col], errors="coerce") > 0).to_numpy(), col, "expected > 0")
    given = table["conc"].notna().to_numpy()
    conc_positive = (pd.to_numeric(table["conc"], errors="coerce") > 0).to_numpy()
    bad(given & ~conc_positive, "conc", "expected > 0 where given")
    for col in _ONLINE_POSITIVE:
        positive = (pd.to_numeric(table[col], errors="coerce") > 0).to_numpy()
        bad(online & ~positive, col, "expected > 0 on an online row")
    bad(~table["regime"].isin(REGIMES).to_numpy(), "regime", f"expected one of {REGIMES}")
    bad(~table["precision"].isin(PRECISIONS).to_numpy(), "precision", f"expected {PRECISIONS}")
    urls = table["url"].astype(str)
    bad(~urls.str.startswith("https://").to_numpy(), "url", "expected the page's https URL")
    dates = table["date"].astype(str)
    bad(~dates.map(lambda d: bool(_DATE.match(d))).to_numpy(), "date", "expected YYYY[-MM[-DD]]")
    bad(table["source"].isna().to_numpy(), "source", "expected the source's id")
    return problems
