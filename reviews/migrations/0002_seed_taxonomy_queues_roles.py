"""Seed the default taxonomy, the role groups and the built-in queues."""

from django.db import migrations

# slug, name, limit, blur by default, description
TAXONOMY = [
    ("violent-crime", "Violent crime", "hard", True, "Planning, committing or glorifying violence against people."),
    (
        "weapons-cbrn",
        "Weapons and CBRN",
        "hard",
        False,
        "Weapons, explosives, chemical, biological, radiological or nuclear harm.",
    ),
    ("cyber", "Cyber attacks", "soft", False, "Malware, intrusion, credential theft and other attacks on systems."),
    (
        "self-harm",
        "Self-harm and suicide",
        "hard",
        True,
        "Encouragement or instructions for self-harm, suicide or eating disorders.",
    ),
    (
        "child-safety",
        "Sexual content involving minors",
        "hard",
        True,
        "Any sexualisation of minors. Always a hard limit.",
    ),
    ("sexual-content", "Sexual content", "soft", True, "Explicit sexual content between adults."),
    ("hate", "Hate", "soft", True, "Demeaning or dehumanising people for a protected attribute."),
    ("harassment", "Harassment", "soft", True, "Threats, bullying or targeted abuse of individuals."),
    (
        "privacy",
        "Privacy and PII",
        "soft",
        False,
        "Exposing or inferring personal data; doxxing; surveillance of individuals.",
    ),
    ("fraud", "Fraud and scams", "soft", False, "Deception for gain: phishing, scams, forgery, impersonation."),
    (
        "misinformation",
        "Misinformation",
        "soft",
        False,
        "False claims presented as fact, especially about health, elections or safety.",
    ),
    (
        "dangerous-advice",
        "Dangerous advice",
        "soft",
        False,
        "Unqualified medical, legal or financial advice with real risk of harm.",
    ),
    ("jailbreak", "Jailbreak", "soft", False, "Attempts to get the model past its safety training."),
    (
        "prompt-injection",
        "Prompt injection",
        "soft",
        False,
        "Instructions smuggled in content the model reads, to hijack it.",
    ),
]

ROLES = ["reviewer", "senior", "admin"]

# slug, name, kind, groups, reviews required, blind, description
QUEUES = [
    (
        "triage",
        "Triage",
        "triage",
        ["reviewer", "senior", "admin"],
        1,
        True,
        "Flagged conversations, highest risk first.",
    ),
    (
        "calibration",
        "Calibration sample",
        "calibration",
        ["reviewer", "senior", "admin"],
        1,
        True,
        "A random sample of low-risk and unflagged traffic, to measure what monitors miss.",
    ),
    (
        "escalation",
        "Escalations",
        "escalation",
        ["senior", "admin"],
        1,
        False,
        "Items reviewers escalated, and hard-limit items that go straight to seniors.",
    ),
    (
        "adjudication",
        "Adjudication",
        "adjudication",
        ["senior", "admin"],
        1,
        False,
        "Items whose reviewers disagreed; a senior's decision is final.",
    ),
]


def seed(apps, schema_editor):
    Category = apps.get_model("reviews", "Category")
    Group = apps.get_model("auth", "Group")
    Queue = apps.get_model("reviews", "Queue")
    for position, (slug, name, limit, blur, description) in enumerate(TAXONOMY):
        Category.objects.get_or_create(
            slug=slug,
            defaults={
                "name": name,
                "limit": limit,
                "blur_by_default": blur,
                "description": description,
                "position": position,
            },
        )
    groups = {name: Group.objects.get_or_create(name=name)[0] for name in ROLES}
    for slug, name, kind, allowed, required, blind, description in QUEUES:
        queue, _ = Queue.objects.get_or_create(
            slug=slug,
            defaults={
                "name": name,
                "kind": kind,
                "reviews_required": required,
                "blind": blind,
                "description": description,
            },
        )
        queue.allowed_groups.add(*(groups[g] for g in allowed))


class Migration(migrations.Migration):
    dependencies = [("reviews", "0001_initial"), ("auth", "0012_alter_user_first_name_max_length")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
