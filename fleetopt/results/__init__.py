"""Solutions back to tables keyed by ids, the typed summary, and readable text.

Never imports a solver: it works on a copy of a run folder pulled from anywhere."""
