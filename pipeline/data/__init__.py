"""Data: reading IDX files, finding and verifying datasets, the split, the prepare stage."""
