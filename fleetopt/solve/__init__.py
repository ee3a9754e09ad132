"""Solving built models with OR-Tools MathOpt, and the objectives: min cost directly, cost
per token by Dinkelbach's method."""
