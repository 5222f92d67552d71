"""Workspace: where reviewers work: claim next, read safely, decide, skip, escalate, reveal; their own history.

- claims.py: leases (`item_claim`, `item_lock_held`, `item_renew_lease`); reviewing.py: the workspace's writes
- decisions.py: recording decisions and adjudication; escalations.py: raising and resolving escalations
- selectors.py: the reads (queues a user may work, the item as they may see it, their history)
- views.py, forms.py, home.py: the pages; consumers.py: their websockets
"""
