"""Operations: the Prometheus metrics page, the health check and the worker heartbeats.

- metrics.py: what /metrics reports (and who may read it); views.py: the page
- health.py: the database and broker check behind /api/v1/health; heartbeats.py: workers' last beats in Redis
"""
