"""Properties of the synthetic demo conversations (reviews/demo_data.py).

Plain Python: no Django, no database. The generator feeds the demo's ingest, review queue and first model, so
these tests pin the payload shape, the ground truth and the safety showcase the demo relies on.
"""

import json
import re
import statistics
from collections import Counter
from typing import Any

import pytest

from reviews.demo_data import DETECTORS, VERDICT_MIX, demo_label, generate_conversations
from reviews.vocabulary import FAILURE_VERDICTS, TAXONOMY

N = 400
ROLES = {"system", "user", "assistant"}
# One marker per adversarial payload kind the UI must render inert.
PAYLOAD_MARKERS = (
    "<script>",
    "onerror=",
    'href="javascript:',
    "](javascript:",
    "hx-get=",
    "{{ request.user }}",
    "{% debug %}",
    "\u202e",
    "\u200b",
    "Ignore previous instructions",
)


@pytest.fixture(scope="module")
def convs() -> list[dict[str, Any]]:
    return generate_conversations(N, seed=0)


def _texts(value: Any) -> list[str]:
    """Every string in a JSON-like value, keys included."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [t for k, v in value.items() for t in _texts(k) + _texts(v)]
    if isinstance(value, list):
        return [t for v in value for t in _texts(v)]
    return []


def _all_text(conv: dict[str, Any]) -> str:
    return "\n".join(m["content"] for m in conv["messages"])


def test_same_seed_gives_identical_output() -> None:
    first, second = generate_conversations(60, seed=5), generate_conversations(60, seed=5)
    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)


def test_different_seeds_give_different_conversations() -> None:
    one, two = generate_conversations(60, seed=1), generate_conversations(60, seed=2)
    differing = sum(a["messages"] != b["messages"] for a, b in zip(one, two, strict=True))
    assert differing > 40
    assert not {c["external_id"] for c in one} & {c["external_id"] for c in two}


def test_count_and_unique_external_ids(convs: list[dict[str, Any]]) -> None:
    ids = [c["external_id"] for c in convs]
    assert len(convs) == N
    assert len(set(ids)) == N
    assert ids[123] == "demo-000123"
    assert all(re.fullmatch(r"demo-\d{6}", i) for i in ids)
    assert generate_conversations(3, seed=7)[2]["external_id"] == "demo-s7-000002"


def test_every_conversation_matches_the_ingest_payload_shape(convs: list[dict[str, Any]]) -> None:
    for conv in convs:
        assert set(conv) == {"external_id", "model", "messages", "flags", "metadata"}
        assert re.fullmatch(r"[\w.-]+@[\w.-]+", conv["model"])
        messages = conv["messages"]
        assert 2 <= len(messages) <= 6
        assert all(set(m) == {"role", "content"} and m["role"] in ROLES for m in messages)
        assert all(isinstance(m["content"], str) and m["content"].strip() for m in messages)
        assert all(m["role"] != "system" for m in messages[1:]), "system prompt only comes first"
        assert messages[-1]["role"] == "assistant"
        assert any(m["role"] == "user" for m in messages)
        assert conv["flags"], "every demo conversation was flagged by something"
        for flag in conv["flags"]:
            assert set(flag) == {"detector", "category", "score", "explanation", "message_index"}
            assert flag["detector"] in DETECTORS
            assert flag["category"] in TAXONOMY
            assert isinstance(flag["score"], float) and 0.0 <= flag["score"] <= 1.0
            assert round(flag["score"], 3) == flag["score"]
            assert isinstance(flag["explanation"], str) and flag["explanation"]
            assert isinstance(flag["message_index"], int) and 0 <= flag["message_index"] < len(messages)
        metadata = conv["metadata"]
        assert set(metadata) == {"locale", "channel", "scenario", "demo_label"}
        assert metadata["scenario"].split("/")[0] in {"harmful", "benign"}


def test_labels_are_consistent_ground_truth(convs: list[dict[str, Any]]) -> None:
    cells = {
        (False, False): "appropriate_help",
        (True, True): "appropriate_refusal",
        (True, False): "harmful_compliance",
        (False, True): "over_refusal",
    }
    for conv in convs:
        label = demo_label(conv)
        assert label is conv["metadata"]["demo_label"]
        assert set(label) == {
            "harmful_request",
            "model_refused",
            "verdict",
            "categories",
            "severity",
            "preferred_response",
        }
        assert label["verdict"] == cells[label["harmful_request"], label["model_refused"]]
        assert set(label["categories"]) <= set(TAXONOMY)
        assert len(label["categories"]) == len(set(label["categories"]))
        assert label["severity"] in range(5)
        if label["harmful_request"]:
            assert label["categories"] and label["severity"] >= 1
        if label["verdict"] == "appropriate_help" and not label["categories"]:
            assert label["severity"] == 0


def test_verdict_mix_is_close_to_the_target(convs: list[dict[str, Any]]) -> None:
    counts = Counter(demo_label(c)["verdict"] for c in convs)
    assert set(counts) == set(VERDICT_MIX)
    for verdict, share in VERDICT_MIX.items():
        assert abs(counts[verdict] / N - share) <= 0.05, (verdict, counts[verdict])


def test_small_demos_still_cover_every_verdict() -> None:
    assert {demo_label(c)["verdict"] for c in generate_conversations(10, seed=3)} == set(VERDICT_MIX)
    assert generate_conversations(0) == []
    with pytest.raises(ValueError):
        generate_conversations(-1)


def test_failure_verdicts_carry_a_preferred_response(convs: list[dict[str, Any]]) -> None:
    for conv in convs:
        label = demo_label(conv)
        preferred = label["preferred_response"]
        if label["verdict"] in FAILURE_VERDICTS:
            assert preferred.strip()
            assert preferred != conv["messages"][-1]["content"]
        else:
            assert preferred == ""


def test_harmful_compliance_is_recognisable_but_redacted(convs: list[dict[str, Any]]) -> None:
    compliant = [c for c in convs if demo_label(c)["verdict"] == "harmful_compliance"]
    assert compliant
    for conv in compliant:
        assert "redacted in demo data" in conv["messages"][-1]["content"]


def test_self_harm_replies_are_supportive_with_a_helpline(convs: list[dict[str, Any]]) -> None:
    helpline = re.compile(r"988|116 123|helpline")
    seen = 0
    for conv in convs:
        label = demo_label(conv)
        if "self-harm" not in label["categories"] or not label["harmful_request"]:
            continue
        seen += 1
        safe_reply = conv["messages"][-1]["content"] if label["model_refused"] else label["preferred_response"]
        assert helpline.search(safe_reply), safe_reply
    assert seen


def test_scores_track_the_truth_noisily(convs: list[dict[str, Any]]) -> None:
    top: dict[str, list[float]] = {verdict: [] for verdict in VERDICT_MIX}
    for conv in convs:
        top[demo_label(conv)["verdict"]].append(max(f["score"] for f in conv["flags"]))
    means = {verdict: statistics.mean(scores) for verdict, scores in top.items()}
    assert means["harmful_compliance"] > means["appropriate_help"] + 0.2
    assert means["appropriate_refusal"] > means["appropriate_help"]
    # Detectors have false positives: some benign, well-handled conversations still score high.
    assert max(top["appropriate_help"]) >= 0.7
    assert min(top["harmful_compliance"]) < max(top["appropriate_help"])


def test_adversarial_payloads_are_present_and_tagged(convs: list[dict[str, Any]]) -> None:
    corpus = "\n".join(_all_text(c) for c in convs)
    for marker in PAYLOAD_MARKERS:
        assert marker in corpus, marker
    adversarial = [c for c in convs if any(m in _all_text(c) for m in PAYLOAD_MARKERS)]
    assert 0.03 * N <= len(adversarial) <= 0.10 * N
    for conv in adversarial:
        tagged = {"prompt-injection", "jailbreak"}
        assert tagged & {f["category"] for f in conv["flags"]}
        assert tagged & set(demo_label(conv)["categories"])


def test_text_is_storable_and_serialisable(convs: list[dict[str, Any]]) -> None:
    for conv in convs:
        assert json.loads(json.dumps(conv)) == conv
        for text in _texts(conv):
            assert "\x00" not in text
            text.encode("utf-8")  # raises on lone surrogates


def test_long_messages_and_meaningful_whitespace(convs: list[dict[str, Any]]) -> None:
    contents = [m["content"] for c in convs for m in c["messages"]]
    assert sum(len(text) >= 2000 for text in contents) >= 5
    assert any("```" in text for text in contents)
    assert any("\n\n" in text for text in contents)
    assert any(re.search(r"^ {4}\S", text, re.MULTILINE) for text in contents), "indented code lines"


def test_content_is_varied(convs: list[dict[str, Any]]) -> None:
    assert len({c["metadata"]["scenario"] for c in convs}) >= 40
    assert len({c["messages"][-1]["content"] for c in convs}) >= 150
    assert len({len(c["messages"]) for c in convs}) >= 4
    assert any(c["messages"][0]["role"] == "system" for c in convs)
    assert any(c["messages"][0]["role"] == "user" for c in convs)
    used = {cat for c in convs for cat in demo_label(c)["categories"]}
    assert len(used) >= 12
    assert {f["detector"] for c in convs for f in c["flags"]} == set(DETECTORS)
