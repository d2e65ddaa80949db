"""Benchmarks of vcnlit: ``make bench`` (``python -m benchmarks.run``) writes results.json and RESULTS.md."""
