"""Confidence: the estimator, its phrases, and the response log's types and ports."""
