"""End-to-end runs: plan, sweep, evaluate, robust, nightly."""
