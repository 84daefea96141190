"""Fairness records: what each framework actually did in a training run, read back from its live objects.

    record.py   - the neutral part: digests (weights, batch order) and the record's shape
    compare.py  - two frameworks' records side by side: the audit table and the differences

The framework parts (optimiser, loss, threads, device, precision, determinism as the libraries hold
them) are `fairness_readback` in `crosstrain.training.tf` and `crosstrain.training.torch`.
A difference in any field makes the report refuse a verdict and register keep the champion.
"""
