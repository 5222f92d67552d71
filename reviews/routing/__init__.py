"""Routing: the policy document, the facts it reads, routing into queues, policy versions, SLAs and the taxonomy.

- policy.py: the policy document (schema, validation, `route`); facts.py: what routing reads of a conversation
- services.py: `items_route` (scores -> review items); policies.py: drafts, dry runs, activation, rollback
- sla.py: the SLA sweep; taxonomy.py: category merges
- views.py, forms.py: the policy editor
"""
