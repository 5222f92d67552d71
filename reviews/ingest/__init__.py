"""Ingest: detectors POST flagged conversations; sources and their tokens; the rate limit.

- schemas.py: the API's pydantic shapes (the endpoints are in reviews/api.py); selectors.py: the read-back
- services.py: `conversations_ingest` (one transaction, scoring queued on commit); bulk_insert.py: COPY on PostgreSQL
- minhash.py, matching.py, clustering.py: campaign fingerprints, which seed a request joins, and the database
  side; clustering_jobs.py: the task queued on commit
  that files each batch under its campaigns, and its sweeper
- sources.py: create, revoke, rotate a source's token; rate_limit.py: per-token limits
- views.py, forms.py: the sources page
"""
