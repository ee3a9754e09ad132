"""Monte Carlo scenarios: draws from (seed, scenario), one scenario's work, statistics."""
