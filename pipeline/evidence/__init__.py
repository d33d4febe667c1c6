"""Paired evidence for ablation verdicts: intervals, p-values, Holm and verdicts."""
