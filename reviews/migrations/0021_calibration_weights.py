"""What the metrics need to be true.

* Calibration rollups carry the weights of harmful sampled conversations (recall weighted by inverse sampling
  rate). Additive: rows written before weigh 1 each (what the unweighted recall assumed) until the next rollup
  rewrites their span.
* A new active policy version on top of the active one (whatever earlier migrations made it): the calibration
  sample spelled out at a few percent and a small share of queued items double-reviewed, so recall, kappa and
  alpha have data from day one. A document that already sets `double_review` is left as it is.
"""

import copy
import difflib
import json
from typing import Any

from django.db import migrations, models
from django.db.models import F
from django.utils import timezone

# Frozen copy of reviews.routing.policy.DEFAULT_MEASURING at the time of this migration.
MEASURING = {
    "sampling": {"queue": "calibration", "low_risk_below": 0.2, "low_risk_percent": 3.0, "unflagged_percent": 3.0},
    "double_review": {"percent": 5.0, "seed": 0},
}
NOTE = "calibration sample at 3 % and 5 % of queued items double-reviewed, so recall and agreement have data"


def weigh_one(apps: Any, schema_editor: Any) -> None:
    rollup = apps.get_model("reviews", "CalibrationRollup")
    rollup.objects.update(harmful_weight=F("harmful"), harmful_weight_sq=F("harmful"))


def _pretty(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=False)


def measure_by_default(apps: Any, schema_editor: Any) -> None:
    from reviews.audit import GENESIS, event_hash

    PolicyVersion = apps.get_model("reviews", "PolicyVersion")
    PolicyDraft = apps.get_model("reviews", "PolicyDraft")
    AuditEvent = apps.get_model("reviews", "AuditEvent")
    current = PolicyVersion.objects.filter(is_active=True).first()
    if current is None or "double_review" in current.document:
        return
    document = copy.deepcopy(current.document)
    sampling = document.get("sampling") or {}
    document["sampling"] = {**MEASURING["sampling"], **{k: v for k, v in sampling.items() if v}}
    document["double_review"] = dict(MEASURING["double_review"])
    number = (PolicyVersion.objects.aggregate(n=models.Max("number"))["n"] or 0) + 1
    PolicyVersion.objects.filter(pk=current.pk).update(is_active=False)
    diff = difflib.unified_diff(
        _pretty(current.document).splitlines(),
        _pretty(document).splitlines(),
        fromfile=f"v{current.number}",
        tofile=f"v{number}",
        lineterm="",
    )
    version = PolicyVersion.objects.create(
        number=number, document=document, is_active=True, note=NOTE[:200], diff="\n".join(diff)
    )
    for draft in PolicyDraft.objects.all():  # an unsaved edit stays; a draft that was the active text follows it
        if draft.document == current.document:
            PolicyDraft.objects.filter(pk=draft.pk).update(document=document, based_on=version)
    event = AuditEvent(
        actor=None,
        action="policy_change",
        target_type="reviews.policyversion",
        target_id=str(version.pk),
        data={"previous": current.number, "note": f"migration 0021: {NOTE}"},
        created_at=timezone.now(),
        prev_hash=AuditEvent.objects.order_by("-pk").values_list("hash", flat=True).first() or GENESIS,
    )
    event.hash = event_hash(event)
    event.save(force_insert=True)


class Migration(migrations.Migration):
    dependencies = [("reviews", "0017_score_verdicts")]

    operations = [
        migrations.AddField(model_name="calibrationrollup", name="harmful_weight", field=models.FloatField(default=0)),
        migrations.AddField(
            model_name="calibrationrollup", name="harmful_weight_sq", field=models.FloatField(default=0)
        ),
        migrations.RunPython(weigh_one, migrations.RunPython.noop),
        migrations.RunPython(measure_by_default, migrations.RunPython.noop),
    ]
