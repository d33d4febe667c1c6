"""Typed specs of what to train: choices, factors, models, training recipes, runs and grids."""
