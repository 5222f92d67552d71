"""Bootstrap from public labeled data: import → train → promote → the open backlog's risks change."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from reviews.models import Conversation, Decision, ReviewItem, Score, ScoringModel, SourceKind

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
pytestmark = pytest.mark.django_db


@pytest.fixture
def shared_data() -> Path:
    if not DATA.is_dir():
        pytest.skip(f"the shared datasets are not at {DATA}")
    return DATA


def _import(fmt: str, path: Path, source: str) -> str:
    out = StringIO()
    call_command("import_dataset", fmt, str(path), "--source", source, stdout=out)
    return out.getvalue()


def test_import_files_conversations_and_imported_decisions_without_queueing_them(shared_data):
    report = _import("jbb-behaviors", shared_data / "jailbreakbench" / "harmful-behaviors.csv", "jbb")

    assert "Read 100 conversations" in report and "100 new" in report and "100 labeled" in report
    assert Conversation.objects.filter(source__name="jbb", source__kind=SourceKind.IMPORT).count() == 100
    decisions = Decision.objects.filter(is_imported=True)
    assert decisions.count() == 100 and all(d.harmful_request for d in decisions)
    assert decisions.first().reviewer.username == "oversight-import"
    assert not ReviewItem.objects.filter(queue__slug="triage").exists()  # labeled already: nothing to review

    again = _import("jbb-behaviors", shared_data / "jailbreakbench" / "harmful-behaviors.csv", "jbb")
    assert "0 new, 100 already there" in again
    assert Decision.objects.filter(is_imported=True).count() == 100


def test_unknown_or_broken_files_are_clear_errors(tmp_path):
    broken = tmp_path / "prompts.csv"
    broken.write_text("id,wrong\n1,x\n")

    with pytest.raises(CommandError, match="column"):
        _import("xstest-prompts", broken, "x")
    with pytest.raises(CommandError):
        _import("xstest-prompts", tmp_path / "missing.csv", "x")
    assert Conversation.objects.count() == 0


def test_import_train_promote_rescore_changes_the_stored_risks(
    shared_data, api, make_conversation, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        backlog = api.post(
            "/api/v1/conversations",
            {"conversations": [make_conversation(f"live-{i}") for i in range(5)]},
        ).json()["ids"]
    before = dict(ReviewItem.objects.filter(conversation_id__in=backlog).values_list("conversation_id", "risk"))
    xstest = shared_data / "xstest"
    _import("xstest-completions", xstest / "model_completions" / "xstest_v2_completions_gpt4.csv", "xstest-gpt4")
    _import("jbb-behaviors", shared_data / "jailbreakbench" / "harmful-behaviors.csv", "jbb")
    _import("jbb-behaviors", shared_data / "jailbreakbench" / "benign-behaviors.csv", "jbb")

    out = StringIO()
    call_command("train_model", "--here", stdout=out)
    model = ScoringModel.objects.get(status="ready")
    with django_capture_on_commit_callbacks(execute=True):
        call_command("promote_model", str(model.version), stdout=StringIO())

    outputs = model.metrics["outputs"]  # a real signal, on held-out conversations (near-duplicate groups apart)
    assert outputs["request_harmful"]["support"] > 50 and outputs["request_harmful"]["auroc"] > 0.7
    assert outputs["complied"]["support"] > 20 and outputs["complied"]["auroc"] > 0.7
    after = dict(ReviewItem.objects.filter(conversation_id__in=backlog).values_list("conversation_id", "risk"))
    assert after != before
    for cid in backlog:
        assert after[cid] == Score.objects.get(conversation_id=cid, producer=f"model-v{model.version}").risk
