"""Evaluation adapters: the dataset and run stores, pricing, the judge, the HTML report."""
