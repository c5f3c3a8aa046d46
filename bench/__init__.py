"""Benchmarks of kubeops.runbook against the lab (`make bench`, `python -m bench`). Not timed tests."""
