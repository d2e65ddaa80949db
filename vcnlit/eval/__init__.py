"""Evaluation: metrics, RD curves, comparisons, results files, plots."""
