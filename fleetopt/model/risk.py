"""The risk measure a two-stage plan minimizes (docs/model.md section 9).

    risk(cost) = (1 - L) x E[cost] + L x CVaR_alpha(cost)

with CVaR in Rockafellar and Uryasev's form,

    CVaR_alpha(cost) = min_eta  eta + E[(cost - eta)+] / (1 - alpha),

whose minimizing eta is the value at risk (the alpha-quantile). With equally likely
scenarios and (1 - alpha) N whole, it is the mean of the (1 - alpha) N largest costs; else it
weighs the scenario at the quantile in part. L = 0 is the plain mean.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fleetopt.core.stats import tail_contributions


@dataclass(frozen=True)
class Risk:
    """`weight` L in [0, 1] on CVaR at level `alpha` in (0, 1); L = 0: the mean."""

    weight: float = 0.0
    alpha: float = 0.95

    @property
    def has_tail(self) -> bool:
        """Whether the objective has a CVaR part (and so the VaR level eta as a variable)."""
        return self.weight > 0

    def contributions(
        self, costs: np.ndarray, probabilities: np.ndarray, eta: float | None = None
    ) -> np.ndarray:
        """Per scenario r[s], with sum p[s] r[s] = risk(costs): (1 - L) cost + L (eta +
        (cost - eta)+ / (1 - alpha)) at eta = VaR, or at a given `eta` (a plan's own, fixed:
        then their mean is at least risk(costs)). Their spread gives the standard error."""
        costs = np.asarray(costs, dtype=float)
        if not self.has_tail:
            return costs.copy()
        if eta is None:
            tail = tail_contributions(costs, self.alpha, probabilities)
        else:
            tail = eta + np.maximum(costs - eta, 0.0) / (1.0 - self.alpha)
        return (1.0 - self.weight) * costs + self.weight * tail

    def value(self, costs: np.ndarray, probabilities: np.ndarray) -> float:
        """risk(costs) for scenario costs with these probabilities."""
        return float(probabilities @ self.contributions(costs, probabilities))

    def as_params(self) -> dict[str, float | str]:
        return {
            "measure": "cvar" if self.has_tail else "mean",
            "weight": self.weight,
            "alpha": self.alpha,
        }


MEAN = Risk()  # the plain expected cost
