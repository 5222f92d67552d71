"""Analytics dashboards: each one a Dashboard of tables (also served as CSV) and charts, built from rollups.

`dashboards.dashboard_build(name=..., filters=...)` is the one entry point for views (one module per
dashboard; stats.py is standard library only, so the worker shares it). Figures over time come from the
rollup tables that `analytics_rollup` (rollup.py) keeps current; the backlog "now" from the open-item
indexes; both stay cheap with millions of decisions (bench/dashboard.py). Access is the caller's to decide;
a build only honours `filters.reviewer_id`, limiting per-reviewer figures to that reviewer.
"""
