"""Optuna sweeps: the search-space spec, running a sweep, its report."""
