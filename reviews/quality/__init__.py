"""Reviewer quality (issue #18): gold items hidden in reviewers' streams, QA second reviews by seniors."""
