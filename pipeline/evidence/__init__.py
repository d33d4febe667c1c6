"""Paired evidence for ablation verdicts: intervals, p-values, multiplicity and verdicts."""
