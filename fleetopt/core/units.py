"""Units and conversions of the model contract (docs/model.md): one definition each."""

from __future__ import annotations

import numpy as np

SECONDS_PER_YEAR = 31_536_000.0  # a year is 8,760 hours
HOURS_PER_YEAR = 8760.0
MWH_PER_KW_YEAR = HOURS_PER_YEAR / 1000.0  # MWh drawn by one kW over a year
TOKENS_PER_MTOK = 1e6


def capital_recovery_factor(discount_rate: float, lifetime_years):
    """CRF(i, L) = i / (1 - (1 + i)^-L) for i > 0, else 1 / L: the share of a purchase price
    paid per year (docs/model.md section 4). Works on numbers and arrays alike."""
    life = np.asarray(lifetime_years, dtype=float)
    crf = discount_rate / (1.0 - (1.0 + discount_rate) ** -life) if discount_rate > 0 else 1 / life
    return float(crf) if np.ndim(crf) == 0 else crf
