"""Campaigns: near-duplicate requests grouped as they are ingested, looked at together, decided in bulk."""
