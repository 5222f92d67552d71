"""POST /api/v1/conversations under arbitrary input (hypothesis).

Properties, for any body: the answer is never a server error; an answer other than 2xx
writes nothing; a 2xx stores exactly what was sent, as the read API gives it back.
Examples are derandomized (the same ones on every run) so CI is reproducible.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from django.db import transaction
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context

from reviews.models import Conversation, Flag

URL = "/api/v1/conversations"
BODY_LIMIT = 300_000  # bytes: above one maximal message (200,000 characters), far below the default 32 MiB

settings.register_profile(
    "ingest-fuzz",
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    # One source and token for all examples; each example runs in its own savepoint, rolled back.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
FUZZ = settings.get_profile("ingest-fuzz")

pytestmark = pytest.mark.django_db

# Characters that break naive storage, escaping or display: NUL, lone surrogates, bidi overrides,
# zero-width and BOM, line and paragraph separators, COPY's markers, HTML, combining marks, astral
# characters, and a printf/SQL placeholder.
TRICKY = [
    "\x00",
    "\ud800",
    "\udfff",
    "\u202e",
    "\u2066",
    "\u200b",
    "\u200d",
    "\ufeff",
    "\u2028",
    "\u2029",
    "\\N",
    "\\",
    "\t",
    "\r\n",
    '"',
    "<script>alert(1)</script>",
    "e\u0301",
    "🙂",
    "\U0010ffff",
    "%s",
]
UNSTORABLE = {"\x00", chr(0xD800), chr(0xDFFF)}
ROLES = ["system", "user", "assistant", "tool"]


def _huge(limit: int) -> st.SearchStrategy[str]:
    """One character repeated up to `limit` times (1 to 4 bytes each): strings near and over the limits."""
    return st.builds(lambda ch, n: ch * n, st.sampled_from(["x", "é", "🙂", "\u200b"]), st.integers(0, limit))


def _text(tricky: list[str], alphabet: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    pieces = st.one_of(st.text(alphabet, max_size=12), st.sampled_from(tricky))
    return st.one_of(st.lists(pieces, max_size=6).map("".join), st.text(alphabet, max_size=40))


# Text PostgreSQL can store (no NUL, no lone surrogate), and text that may hold either.
storable = _text([t for t in TRICKY if t not in UNSTORABLE], st.characters(exclude_characters="\x00"))
text = _text(TRICKY, st.characters())
long_key = st.one_of(text, _huge(5_000))
numbers = st.one_of(
    st.integers(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=False, allow_infinity=False),
)
json_values = st.recursive(
    st.none() | st.booleans() | numbers | text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(long_key, children, max_size=4),
    max_leaves=12,
)
storable_json = st.recursive(
    st.none() | st.booleans() | numbers | storable,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(storable, children, max_size=4),
    max_leaves=12,
)


def _bounded(strategy: st.SearchStrategy[str], low: int, high: int) -> st.SearchStrategy[str]:
    return strategy.filter(lambda value: low <= len(value) <= high)


# Well-formed conversations (mostly accepted), with huge strings around the per-field and body limits.
message = st.fixed_dictionaries(
    {"role": st.sampled_from(ROLES), "content": st.one_of(storable, _huge(260_000))},
    optional={"name": storable_json},
)
flag = st.fixed_dictionaries(
    {
        "detector": _bounded(storable, 1, 200),
        "category": _bounded(storable, 1, 100),
        "score": st.floats(min_value=0, max_value=1) | st.sampled_from([0, 1, 5e-324, -0.0]),
    },
    optional={"explanation": st.one_of(storable, _huge(20_000)), "message_index": st.none() | st.integers(0, 1)},
)
conversation = st.fixed_dictionaries(
    {"external_id": _bounded(storable, 1, 255), "messages": st.lists(message, min_size=2, max_size=3)},
    optional={
        "model": _bounded(storable, 0, 200),
        "flags": st.lists(flag, max_size=3),
        "metadata": st.dictionaries(st.one_of(storable, _huge(5_000)), storable_json, max_size=5),
        "unknown": json_values,
    },
)
# Where a mutation lands, and what it puts there: wrong types, unstorable text, out-of-range values.
FIELDS = ["external_id", "model", "messages", "flags", "metadata", "message", "role", "content", "flag"]
junk = st.one_of(
    json_values,
    text.filter(lambda value: any(t in value for t in UNSTORABLE)),
    st.sampled_from(["", "wizard", -1, 2, 1.5, 10**30, 2**63, [], {}, None, "x" * 300]),
)


@st.composite
def mutated(draw: st.DrawFn) -> dict[str, Any]:
    """A well-formed batch with one field of one conversation replaced by junk."""
    conversations = draw(st.lists(conversation, min_size=1, max_size=3))
    target = conversations[draw(st.integers(0, len(conversations) - 1))]
    field, value = draw(st.sampled_from(FIELDS)), draw(junk)
    if field in ("message", "role", "content"):
        message = target["messages"][0]
        if field == "message":
            target["messages"][0] = value
        else:
            message[field] = value
    elif field == "flag":
        target["flags"] = [*target.get("flags", []), value]
    else:
        target[field] = value
    return {"conversations": conversations}


batch = st.one_of(
    st.fixed_dictionaries({"conversations": st.lists(conversation, min_size=1, max_size=3)}),
    mutated(),
    st.fixed_dictionaries({"conversations": json_values}),
    json_values,
)


@st.composite
def encoded(draw: st.DrawFn, body: Any) -> bytes:
    """JSON text as a client might send it: escaped or raw UTF-8; lone surrogates become invalid UTF-8."""
    ascii_only = draw(st.booleans())
    return json.dumps(body, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")


# Bodies no JSON encoder writes: what a broken or hostile client sends.
REFUSED_NUMBERS = ["1e400", "-1e400", "NaN", "Infinity", "-Infinity", "1" * 5000]
ODD_NUMBERS = ["-0", "-0.0", "1E+2", "0.1e-400", "5e-324", "1" * 4000]
INVALID_UTF8 = [b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xc0\xaf", b"\xe2\x82", b"\x80"]


def _deep(levels: int, opener: str) -> str:
    closer = {"[": "]", '{"a":': "}"}[opener]
    return opener * levels + "1" + closer * levels


def _valid_body(score: str = "0.5", metadata: str = "{}", message_index: str = "0") -> str:
    return (
        '{"conversations": [{"external_id": "raw", "messages": [{"role": "user", "content": "hi"}],'
        f' "flags": [{{"detector": "d", "category": "c", "score": {score}, "message_index": {message_index}}}],'
        f' "metadata": {metadata}}}]}}'
    )


def _number_in_each_place(numbers: list[str]) -> st.SearchStrategy[str]:
    return st.sampled_from(numbers).flatmap(
        lambda n: st.sampled_from(
            [_valid_body(score=n), _valid_body(metadata=f'{{"n": {n}}}'), _valid_body(message_index=n)]
        )
    )


def _nested(levels: list[int]) -> st.SearchStrategy[str]:
    return st.builds(
        lambda levels, opener, inside: (
            _valid_body(metadata=f'{{"deep": {_deep(levels, opener)}}}') if inside else _deep(levels, opener)
        ),
        st.sampled_from(levels),
        st.sampled_from(["[", '{"a":']),
        st.booleans(),
    )


refused_bodies = st.one_of(
    _number_in_each_place(REFUSED_NUMBERS),
    _nested([33, 900, 10_000]),
    st.sampled_from(["", " ", "null", "[]", "{}", '"conversations"', '{"conversations": null}', "{", "\ufeff{}"]),
).map(str.encode)
odd_bodies = st.one_of(_number_in_each_place(ODD_NUMBERS), _nested([30, 31])).map(str.encode)


@st.composite
def with_invalid_utf8(draw: st.DrawFn) -> bytes:
    body = draw(st.builds(lambda b: json.dumps(b).encode(), batch))
    at = draw(st.integers(0, len(body)))
    return body[:at] + draw(st.sampled_from(INVALID_UTF8)) + body[at:]


def _counts() -> tuple[int, int]:
    return Conversation.objects.count(), Flag.objects.count()


def _number(value: Any) -> Any:
    """Numbers as the decimal they spell: jsonb keeps the decimal, not Python's int/float distinction."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, list):
        return [_number(v) for v in value]
    return {k: _number(v) for k, v in value.items()}


def _assert_stored_as_sent(api: Any, sent: dict[str, Any], conversation_id: int) -> None:
    response = api.get(f"{URL}/{conversation_id}")
    assert response.status_code == 200, response.content
    stored = response.json()
    assert stored["external_id"] == sent["external_id"]
    assert stored["model"] == sent.get("model", "")
    assert stored["messages"] == [{"role": m["role"], "content": m["content"]} for m in sent["messages"]]
    assert _number(stored["metadata"]) == _number(sent.get("metadata", {}))
    expected_flags = [
        (
            f["detector"],
            f["category"],
            float(f["score"]),
            f.get("explanation", ""),
            None if f.get("message_index") is None else int(f["message_index"]),
        )
        for f in sent.get("flags", [])
    ]
    got_flags = [
        (f["detector"], f["category"], f["score"], f["explanation"], f["message_index"]) for f in stored["flags"]
    ]
    assert sorted(got_flags, key=repr) == sorted(expected_flags, key=repr)


def _post_and_check(api: Any, raw: bytes, sent: Any = None) -> int:
    """POST in a savepoint that is rolled back afterwards, so examples never see each other's rows."""
    with transaction.atomic():
        before = _counts()
        newest = Conversation.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        response = api.post(URL, raw=raw)
        status = response.status_code
        if currently_in_test_context():
            event(f"status {status}")  # --hypothesis-show-statistics: how often each outcome was reached
        assert status < 500, response.content
        if len(raw) > BODY_LIMIT:
            assert status == 413
        body = response.json()
        if not 200 <= status < 300:
            assert set(body) == {"error", "message", "details"}, body
            assert _counts() == before, f"{status} but rows were written"
        else:
            assert isinstance(sent, dict), "only a decoded batch can be accepted"
            fresh = sorted({pk for pk in body["ids"] if pk > newest})
            assert body["accepted"] == len(fresh)
            first_of = {}
            for pk, payload in zip(body["ids"], sent["conversations"], strict=True):
                first_of.setdefault(pk, payload)
            flags = sum(len(first_of[pk].get("flags", [])) for pk in fresh)
            assert _counts() == (before[0] + len(fresh), before[1] + flags)
            for pk in fresh:
                _assert_stored_as_sent(api, first_of[pk], pk)
        transaction.set_rollback(True)
    return status


@pytest.fixture
def fuzz_limits(settings: Any) -> None:
    """A body limit that huge strings reach quickly, and no rate limit."""
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = settings.INGEST_MAX_BODY_BYTES = BODY_LIMIT
    settings.API_RATE_LIMIT_PER_MINUTE = 0  # hundreds of requests a minute from one token, on purpose


@FUZZ
@given(data=st.data())
def test_any_json_body_is_answered_without_server_error_or_partial_write(api, fuzz_limits, data):
    body = data.draw(batch)

    _post_and_check(api, data.draw(encoded(body)), body)


@settings(FUZZ, max_examples=50)
@given(raw=refused_bodies)
def test_bodies_that_are_not_storable_json_are_refused_cleanly(api, fuzz_limits, raw):
    assert _post_and_check(api, raw) in (413, 422)


@settings(FUZZ, max_examples=30)
@given(raw=odd_bodies)
def test_odd_but_valid_numbers_and_nesting_are_refused_or_stored_exactly(api, fuzz_limits, raw):
    _post_and_check(api, raw, json.loads(raw))


@settings(FUZZ, max_examples=40)
@given(raw=with_invalid_utf8())
def test_invalid_utf8_anywhere_in_the_body_is_422_and_writes_nothing(api, fuzz_limits, raw):
    assert _post_and_check(api, raw) == (413 if len(raw) > BODY_LIMIT else 422)


def test_well_formed_batch_with_every_tricky_character_round_trips(api, make_conversation):
    """The property's positive case, pinned: tricky (but storable) text survives byte for byte."""
    tricky = "".join(t for t in TRICKY if t not in UNSTORABLE)
    sent = make_conversation(tricky[:255], model=tricky[:200], metadata={tricky: [tricky, 1e300, 2**70, -0.0]})
    sent["messages"][1]["content"] = tricky
    sent["flags"][0]["explanation"] = tricky

    assert _post_and_check(api, json.dumps({"conversations": [sent]}).encode(), {"conversations": [sent]}) == 202
