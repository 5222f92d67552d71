"""A review item's priority, from its parts, in one function.

    priority = base                   routing: weights.risk * risk + weights.severity * severity / 4 + rule boost
             + weights.age * min(whole hours waiting, AGE_CAP_HOURS)
             + BREACH_BOOST        once the SLA sweep found it past due (`sla_breached_at`)
             + ESCALATION_BOOST    a reviewer (or the SLA sweep) escalated it into the seniors' queue
             + ADJUDICATION_BOOST  its reviewers disagreed

Every writer (routing and re-routing, the SLA sweep, escalation, adjudication) stores the parts on the item
and calls `item_reprioritize`, so a re-route that changes the base keeps a breach, an escalation, an
adjudication and the age already earned.

The age term grows in whole hours and is stored, not computed when claiming: claim-next orders by the stored
`priority` on a partial index (`item_open_by_priority`), which a term changing every second would defeat. Each
item carries `age_step_at`, the moment its next hour is up; the SLA sweep (every minute) recomputes the items
whose step is due, so an item is written once an hour at most, for its first AGE_CAP_HOURS.

Items made by hand (no routing: tests, fixtures) carry no base until something recomputes them: their priority
as set is then taken as the base.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from reviews.models import PolicyVersion, ReviewItem
from reviews.routing.policy import Weights

BREACH_BOOST = 10.0  # a breached item outranks any fresh item of the same risk
ESCALATION_BOOST = 5.0  # a reviewer's escalation outranks fresh work of the same risk
ADJUDICATION_BOOST = 5.0  # a disagreement is more urgent than fresh triage at the same risk
AGE_CAP_HOURS = 24  # the age term stops growing after a day (the longest default SLA band)
HOUR = timedelta(hours=1)

# The parts (and what they decide) that `item_reprioritize` writes, for `save(update_fields=...)`/`bulk_update`.
PRIORITY_FIELDS = ("priority", "priority_base", "age_step_at")


def age_hours(*, created_at: datetime, now: datetime) -> int:
    """Whole hours the item has waited, 0..AGE_CAP_HOURS."""
    return max(0, min(AGE_CAP_HOURS, int((now - created_at) / HOUR)))


def priority_of(
    *, base: float, age_weight: float, hours: int, breached: bool, escalated: bool, adjudicated: bool
) -> float:
    """The formula (module docstring): the one place that adds the parts up."""
    return (
        base
        + age_weight * min(hours, AGE_CAP_HOURS)
        + (BREACH_BOOST if breached else 0.0)
        + (ESCALATION_BOOST if escalated else 0.0)
        + (ADJUDICATION_BOOST if adjudicated else 0.0)
    )


def item_reprioritize(item: ReviewItem, *, age_weight: float, now: datetime) -> None:
    """Set `item.priority` from its parts and `item.age_step_at` to its next whole hour (None once capped or
    without an age weight), in memory: the caller saves `PRIORITY_FIELDS`. Needs `created_at` (a new item: now)."""
    if item.priority_base is None:  # made by hand, never recomputed: what it was given is its base
        item.priority_base = item.priority
    created_at = item.created_at if isinstance(item.created_at, datetime) else now
    hours = age_hours(created_at=created_at, now=now)
    item.priority = priority_of(
        base=item.priority_base,
        age_weight=age_weight,
        hours=hours,
        breached=item.sla_breached_at is not None,
        escalated=item.escalation_boost,
        adjudicated=item.adjudication_boost,
    )
    item.age_step_at = created_at + (hours + 1) * HOUR if age_weight > 0 and hours < AGE_CAP_HOURS else None


def active_age_weight() -> float:
    """The active policy's `weights.age` (priority per hour waited); the default before any policy exists."""
    document = PolicyVersion.objects.filter(is_active=True).values_list("document", flat=True).first()
    weights = (document or {}).get("weights") if isinstance(document, dict) else None
    return Weights.model_validate(weights or {}).age
