"""The report stage: result tables, figures, ablation.md and metrics.json."""
