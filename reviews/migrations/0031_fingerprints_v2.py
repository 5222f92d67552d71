"""Campaign fingerprints, scheme 2 (reviews/ingest/minhash.py): 3-grams hashed from per-word CRC-32s and bands
hashed by NumPy. The stored seeds' signatures, shingles and buckets are computed again from their conversations,
since a scheme-1 seed would share no bucket with a scheme-2 request; campaigns and members are left as they are.
The member's campaign loses its own index (campaign_member_joined serves lookups by campaign)."""

import django.db.models.deletion
from django.db import migrations, models

CHUNK = 1000


def refingerprint(apps, schema_editor):
    # The current scheme, on purpose: seeds must compare with what ingest computes now. A later scheme brings
    # its own migration, which this one, run before it, then only anticipates.
    from reviews.ingest.minhash import fingerprints, pack_grams, pack_signature, stored_request_text

    member = apps.get_model("reviews", "CampaignMember")
    bands = [f"band{i}" for i in range(12)]
    seeds = member.objects.filter(signature__isnull=False).order_by("pk")
    last = 0
    while chunk := list(seeds.filter(pk__gt=last).select_related("conversation")[:CHUNK]):
        last = chunk[-1].pk
        prints = fingerprints([stored_request_text(m.conversation.messages) for m in chunk])
        for k, m in enumerate(chunk):
            fp = prints.at(k)
            m.signature = pack_signature(fp.row) if fp else None
            m.grams = pack_grams(fp.grams) if fp else None
            for name, key in zip(bands, fp.bands if fp else [None] * len(bands), strict=True):
                setattr(m, name, key)
        member.objects.bulk_update(chunk, ["signature", "grams", *bands])


class Migration(migrations.Migration):
    dependencies = [
        ("reviews", "0030_bulk_progress_gold_slot"),
    ]

    operations = [
        # Not reversible in kind: scheme 1 is gone from the code; going back leaves scheme-2 seeds, which only
        # scheme-2 requests match.
        migrations.RunPython(refingerprint, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="campaignmember",
            name="campaign",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="members",
                to="reviews.campaign",
            ),
        ),
    ]
