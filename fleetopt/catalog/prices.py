"""Market prices of tokens: public API list prices per million tokens, by model.

`prices.csv` holds one row per (model, provider offering): input and output USD per
million tokens, the date and the page they were read from. The market price of a
workload's tokens blends a provider's input and output prices by the workload's own
input share (its prefill tokens over all its tokens), and takes the median over the
providers listed for its model, so that no single provider's discount or premium sets it.

The bundled example uses it as the unmet-demand penalty of each workload (what its
tokens would cost bought from the market); a planner's own penalty overrides it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from fleetopt.catalog.perf import CATALOG_DIR

PRICE_COLUMNS = (
    "model",
    "provider",
    "offering",
    "input_usd_per_mtok",
    "output_usd_per_mtok",
    "date",
    "url",
    "source",
)


def load_prices(catalog_dir: str | Path | None = None) -> pd.DataFrame:
    """The catalog's prices.csv."""
    folder = Path(catalog_dir) if catalog_dir is not None else CATALOG_DIR
    return pd.read_csv(folder / "prices.csv")


def market_price_usd_per_mtok(
    prices: pd.DataFrame, models: pd.Series, input_share: pd.Series
) -> np.ndarray:
    """Per (model, input share) pair: the median over the model's providers of

        input_share x input_usd_per_mtok + (1 - input_share) x output_usd_per_mtok

    NaN where prices.csv lists no provider for the model.
    """
    pairs = pd.DataFrame({"model": models.to_numpy(), "share": input_share.to_numpy()})
    pairs["pair"] = np.arange(len(pairs))
    rows = pairs.merge(prices, on="model")
    rows["blended"] = (
        rows["share"] * rows["input_usd_per_mtok"]
        + (1.0 - rows["share"]) * rows["output_usd_per_mtok"]
    )
    median = rows.groupby("pair")["blended"].median()
    return median.reindex(pairs["pair"]).to_numpy()
