"""Scores carry the verdict grid, and the default policy reviews likely over-refusals too.

* `Score.verdicts` (null where there is no verdict grid) and `Score.judged`: existing rows keep their
  categories and risk untouched; their verdicts stay null (the detectors' fallback and the heads trained
  before the verdict grid never had them), and `judged` says "request" where the conversation ends with
  a user turn, as `reviews.scoring.text.text_views` decides for new scores.
* A queue "over-refusal", and a new active policy version: the active document plus one rule, last
  before the fallback, sending `verdicts.over_refusal >= 0.5` there. Audited like any policy change
  (no actor: the migration made it). `risk: {harmful: ...}` conditions keep their text: the key still
  reads `Score.risk`, which is now P(harmful compliance).
* The model dashboard's rollup (`ScoreRollup`) gains what the verdict grid is judged by: `positives` (what
  the risk predicts; for the rows already there, all scored without a grid, that is `harmful`), `graded`,
  `verdict_hits`, `verdict_prob_sum`.
"""

import copy
import difflib
import json
from typing import Any

from django.db import migrations, models
from django.utils import timezone

RULE_NAME = "likely over-refusal"
QUEUE = "over-refusal"
RULE = {"name": RULE_NAME, "when": {"verdicts": {"over_refusal": {"min": 0.5}}}, "then": {"queue": QUEUE}}
NOTE = "likely over-refusals go to the over-refusal queue; risk.harmful now reads P(harmful compliance)"


def _judged(messages: Any) -> str:
    """Frozen copy of TextViews.judged: "response" when an assistant turn follows the last user turn."""
    roles = [m.get("role") if isinstance(m, dict) else None for m in messages] if isinstance(messages, list) else []
    last_user = max((i for i, role in enumerate(roles) if role == "user"), default=-1)
    return "response" if "assistant" in roles[last_user + 1 :] else "request"


def judge_existing_scores(apps: Any, schema_editor: Any) -> None:
    Conversation = apps.get_model("reviews", "Conversation")
    Score = apps.get_model("reviews", "Score")
    scored = Conversation.objects.filter(pk__in=Score.objects.values("conversation_id"))
    requests: list[int] = []
    for pk, messages in scored.values_list("pk", "messages").iterator(chunk_size=2000):
        if _judged(messages) == "request":
            requests.append(pk)
        if len(requests) >= 2000:
            Score.objects.filter(conversation_id__in=requests).update(judged="request")
            requests = []
    Score.objects.filter(conversation_id__in=requests).update(judged="request")


def rollup_positives(apps: Any, schema_editor: Any) -> None:
    """Rows counted before the verdict grid: their risk predicted a harmful request, which `harmful` counts."""
    apps.get_model("reviews", "ScoreRollup").objects.update(positives=models.F("harmful"))


def _pretty(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=False)


def _mentions_over_refusal(document: dict[str, Any]) -> bool:
    rules = document.get("rules") or []
    return any(
        rule.get("name") == RULE_NAME or "over_refusal" in ((rule.get("when") or {}).get("verdicts") or {})
        for rule in rules
    )


def review_over_refusals(apps: Any, schema_editor: Any) -> None:
    from reviews.audit import GENESIS, event_hash

    Group = apps.get_model("auth", "Group")
    Queue = apps.get_model("reviews", "Queue")
    PolicyVersion = apps.get_model("reviews", "PolicyVersion")
    PolicyDraft = apps.get_model("reviews", "PolicyDraft")
    AuditEvent = apps.get_model("reviews", "AuditEvent")

    queue, created = Queue.objects.get_or_create(
        slug=QUEUE,
        defaults={
            "name": "Over-refusals",
            "kind": "triage",
            "reviews_required": 1,
            "blind": True,
            "description": "Safe requests the model likely refused (P(over-refusal) at least 0.5): helpfulness "
            "failures, kept apart so they never wait behind or in front of harmful compliance in triage.",
        },
    )
    if created:
        queue.allowed_groups.add(*Group.objects.filter(name__in=["reviewer", "senior", "admin"]))

    current = PolicyVersion.objects.filter(is_active=True).first()
    if current is None or _mentions_over_refusal(current.document) or len(current.document.get("rules", [])) >= 200:
        return
    document = copy.deepcopy(current.document)
    document["rules"] = [*document["rules"], RULE]
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
    # An unsaved edit stays; a draft that was the active document follows it.
    for draft in PolicyDraft.objects.all():
        if draft.document == current.document:
            PolicyDraft.objects.filter(pk=draft.pk).update(document=document, based_on=version)
    event = AuditEvent(
        actor=None,
        action="policy_change",
        target_type="reviews.policyversion",
        target_id=str(version.pk),
        data={"previous": current.number, "note": f"migration 0017: {NOTE}"},
        created_at=timezone.now(),
        prev_hash=AuditEvent.objects.order_by("-pk").values_list("hash", flat=True).first() or GENESIS,
    )
    event.hash = event_hash(event)
    event.save(force_insert=True)


class Migration(migrations.Migration):
    dependencies = [("reviews", "0015_decision_targets")]

    operations = [
        migrations.AddField(
            model_name="score",
            name="judged",
            field=models.CharField(
                choices=[("response", "The response"), ("request", "The request (no response)")],
                default="response",
                max_length=8,
            ),
        ),
        migrations.AddField(
            model_name="score",
            name="verdicts",
            field=models.JSONField(
                blank=True,
                help_text="P(verdict) for harmful_compliance, appropriate_refusal, over_refusal, appropriate_help; "
                "null without a verdict grid (fallback, request-only, older heads).",
                null=True,
            ),
        ),
        migrations.AddConstraint(
            model_name="score",
            constraint=models.CheckConstraint(
                condition=models.Q(("judged__in", ["response", "request"])), name="score_judged_known"
            ),
        ),
        migrations.AddField(model_name="scorerollup", name="graded", field=models.PositiveIntegerField(default=0)),
        migrations.AddField(model_name="scorerollup", name="positives", field=models.PositiveIntegerField(default=0)),
        migrations.AddField(
            model_name="scorerollup", name="verdict_hits", field=models.PositiveIntegerField(default=0)
        ),
        migrations.AddField(model_name="scorerollup", name="verdict_prob_sum", field=models.FloatField(default=0)),
        migrations.RunPython(judge_existing_scores, migrations.RunPython.noop),
        migrations.RunPython(rollup_positives, migrations.RunPython.noop),
        migrations.RunPython(review_over_refusals, migrations.RunPython.noop),
    ]
