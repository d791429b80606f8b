"""Evaluation: answer evaluation, datasets and benchmark runs, metrics, reports, the playground."""
