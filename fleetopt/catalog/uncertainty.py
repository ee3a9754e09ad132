"""How far each catalog rack type's throughput may be off: the calibration's errors as sigmas.

A scenario multiplies every tokens_per_s of rack type r by exp(sigma_r x Z) (docs/model.md
section 5). sigma_r is the RMS log error of the calibrated model (model / measured of each
measured point of every source, docs/performance.md "Calibration") in the situation r is
in, tested where the measured points can test it:

- `measured`: r's hardware has measured points: the error on them (fitted and held out);
- `carried`: r has no measured points and carries a fitted family's parameters (Vera Rubin
  <- Blackwell, MI400 <- CDNA 4): each hardware of a family of two or more, predicted by its
  family refitted without it (leave one hardware out), each hardware counting once;
- `estimated`: no family applies to r (Groq LPX, Cerebras CS-3, Vera CPU): each measured
  family predicted with another family's parameters, each ordered pair counting once. This
  is the error of carrying GPU parameters across vendors and generations; these racks'
  architectures differ more than that, so it is a floor, not a bound.

`python -m fleetopt.catalog.uncertainty` writes `throughput_sigma.csv`; a test checks that
the committed file is what this module derives. The bundled example fills racks.csv
`throughput_sigma` from it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from fleetopt.catalog.calibration import (
    FITTED_COLUMNS,
    POOLED,
    Replay,
    calibration_params,
    evaluate,
    fit_params,
    load_accelerators,
    load_replay,
)
from fleetopt.catalog.measured import load_measured
from fleetopt.catalog.perf import CATALOG_DIR, load_catalog
from fleetopt.catalog.published import load_published
from fleetopt.io.store import write_csv_atomic

SIGMA_FILE = "throughput_sigma.csv"
SIGMA_COLUMNS = ("rack_type", "throughput_sigma", "basis", "source")
DECIMALS = 3  # sigmas are written rounded, so the committed file equals the derivation


def rms_log_error(error: pd.Series) -> float:
    """sqrt(mean(log(1 + error)^2)): the sigma of a lognormal model / measured ratio."""
    return float(np.sqrt(np.mean(np.log1p(error.to_numpy(dtype=float)) ** 2)))


def _subset(replay: Replay, decode: pd.Series, prefill: pd.Series) -> Replay:
    """The replay's points where the masks hold."""
    return Replay(decode=replay.decode[decode], prefill=replay.prefill[prefill])


def measured_errors(params: pd.DataFrame, overlap: float, replay: Replay) -> pd.DataFrame:
    """Per catalog rack type with measured hardware: its hardware, points (every source's)
    and RMS log error."""
    d = evaluate(params, overlap, replay).decode
    d = d[d["catalog_rack_type"] != ""]
    return pd.DataFrame(
        [
            {
                "rack_type": rack,
                "hardware": g["hardware"].iloc[0],
                "points": len(g),
                "sigma": rms_log_error(g["error"]),
            }
            for rack, g in d.groupby("catalog_rack_type")
        ]
    )


def leave_one_hardware_out(params: pd.DataFrame, overlap: float, replay: Replay) -> pd.DataFrame:
    """Per hardware of a family with two or more: its RMS log error under its family's fit
    made without it (the family search from the pooled parameters on the family's other
    fitted points, as the calibration fits each family)."""
    x, pre = replay.decode, replay.prefill
    start = params.loc[POOLED, list(FITTED_COLUMNS)].to_dict()
    rows = []
    for arch, family in x.groupby("arch"):
        hardware = sorted(family["hardware"].unique())
        if len(hardware) < 2:
            continue
        for h in hardware:
            others = (x["arch"] == arch) & (x["split"] == "fitted") & (x["hardware"] != h)
            others_pre = (pre["arch"] == arch) & (pre["split"] == "fitted") & (pre["hardware"] != h)
            fit, _ = fit_params(x[others], pre[others_pre], start, overlap)
            refit = pd.DataFrame([fit], index=pd.Index([arch], name="arch"))
            held = _subset(replay, x["hardware"] == h, pre["hardware"] == h)
            err = evaluate(refit, overlap, held).decode["error"]
            rows.append(
                {"arch": arch, "hardware": h, "points": len(err), "sigma": rms_log_error(err)}
            )
    return pd.DataFrame(rows)


def cross_family(params: pd.DataFrame, overlap: float, replay: Replay) -> pd.DataFrame:
    """Per ordered pair of fitted families (a, b): a's points predicted with b's parameters."""
    x, pre = replay.decode, replay.prefill
    families = [a for a in params.index if a != POOLED]
    rows = []
    for a in families:
        for b in families:
            if a == b:
                continue
            borrowed = Replay(
                decode=x[x["arch"] == a].assign(arch=b),
                prefill=pre[pre["arch"] == a].assign(arch=b),
            )
            err = evaluate(params, overlap, borrowed).decode["error"]
            rows.append({"arch": a, "with": b, "points": len(err), "sigma": rms_log_error(err)})
    return pd.DataFrame(rows)


def pooled(sigmas: pd.Series) -> float:
    """RMS of several sigmas, each counting once."""
    return float(np.sqrt(np.mean(sigmas.to_numpy(dtype=float) ** 2)))


def throughput_sigmas(catalog_dir: str | Path | None = None) -> pd.DataFrame:
    """throughput_sigma.csv rows: one per catalog rack type, with its basis and source."""
    folder = Path(catalog_dir) if catalog_dir is not None else CATALOG_DIR
    committed = calibration_params(folder / "calibration.csv").set_index("arch")
    overlap = float(committed["overlap"].iloc[0])
    params = committed[list(FITTED_COLUMNS)]
    replay = load_replay(
        load_measured(folder / "measured.csv"),
        load_published(folder / "published.csv"),
        load_accelerators(folder / "accelerators.csv"),
        load_catalog(folder).models,
    )

    measured = measured_errors(params, overlap, replay).set_index("rack_type")
    loo = leave_one_hardware_out(params, overlap, replay)
    cross = cross_family(params, overlap, replay)
    carried_sigma, estimated_sigma = pooled(loo["sigma"]), pooled(cross["sigma"])
    loo_text = ", ".join(f"{h} {s:.2f}" for h, s in zip(loo["hardware"], loo["sigma"], strict=True))
    specs = load_catalog(folder).specs
    rows = []
    for rack, arch in zip(specs["rack_type"], specs["perf_arch"].fillna(""), strict=True):
        if rack in measured.index:
            m = measured.loc[rack]
            sigma, basis = m["sigma"], "measured"
            source = (
                f"fitted: RMS log error of the calibrated model over the {m['points']} measured "
                f"{m['hardware']} points of every source (fitted and held out)"
            )
        elif arch:
            sigma, basis = carried_sigma, "carried"
            source = (
                f"carried: no measured points; carries the {arch} fit. RMS over each measured "
                f"hardware of a family predicted by its family refitted without it ({loo_text})"
            )
        else:
            sigma, basis = estimated_sigma, "estimated"
            source = (
                "estimate: no measured points and no family fit applies. RMS over each measured "
                f"family predicted with another family's parameters ({len(cross)} pairs; a floor: "
                "this architecture differs more from any GPU than GPU families from each other)"
            )
        rows.append(
            {
                "rack_type": rack,
                "throughput_sigma": round(float(sigma), DECIMALS),
                "basis": basis,
                "source": source,
            }
        )
    return pd.DataFrame(rows, columns=list(SIGMA_COLUMNS))


def load_throughput_sigmas(catalog_dir: str | Path | None = None) -> pd.DataFrame:
    """The committed throughput_sigma.csv."""
    folder = Path(catalog_dir) if catalog_dir is not None else CATALOG_DIR
    return pd.read_csv(folder / SIGMA_FILE)


def write(catalog_dir: str | Path | None = None) -> None:
    """Derive and write throughput_sigma.csv (atomically)."""
    folder = Path(catalog_dir) if catalog_dir is not None else CATALOG_DIR
    write_csv_atomic(folder / SIGMA_FILE, throughput_sigmas(folder))


if __name__ == "__main__":
    write()
