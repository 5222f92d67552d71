"""A corpus of XSS and injection payloads, planted in every text field the product shows (issue #8).

`PAYLOADS` are named strings a hostile detector or model could send. `plant_corpus` ingests them through the
real API (messages, flag detector/category/explanation, model name, metadata keys and values, external ids),
routes them into triage, and writes them through the real workspace views into a decision's rationale and
preferred response, an escalation reason and a senior's resolution; it builds a dataset snapshot from them.
`inert_violations` parses a page and lists anything active that a payload could have smuggled in.

Every URL a payload names is on 127.0.0.1:1 (nothing listens there) or contains "leak", so a request it
triggers is easy to spot; every script payload calls alert(), so a leak shows up as a dialog or a CSP report.
NUL characters and lone surrogates are left out: the ingest refuses them with 422 (tests/ingest/test_ingest_api.py).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any, NamedTuple
from urllib.parse import unquote, urlsplit

from django.contrib.auth.models import User
from django.test import Client

from reviews.datasets.builder import dataset_build, dataset_create
from reviews.models import Conversation, Dataset, Decision, Escalation, Queue, ReviewItem


class Payload(NamedTuple):
    name: str
    text: str


LONG_TAIL = "<script>alert('long-tail')</script>"

PAYLOADS: list[Payload] = [
    Payload("script_tag", "<script>alert(1)</script>"),
    Payload("script_mixed_case", "<ScRiPt>alert('case')</sCrIpT>"),
    Payload("img_onerror", "<img src=x onerror=alert(1)>"),
    Payload("img_remote_onerror", '<img src="http://127.0.0.1:1/leak-img.png" onerror="alert(\'img\')">'),
    Payload("img_srcset", '<img srcset="http://127.0.0.1:1/leak-srcset.png 1x">'),
    Payload("svg_onload", "<svg onload=alert(1)>"),
    Payload("svg_script", "<svg><script>alert(1)</script></svg>"),
    Payload("a_javascript_href", '<a href="javascript:alert(1)">x</a>'),
    Payload("a_javascript_obfuscated", "<a href=\"jav&#x09;ascript:alert('tab')\">tab</a>"),
    Payload("iframe_javascript", "<iframe src=javascript:alert(1)>"),
    Payload("iframe_srcdoc", "<iframe srcdoc=\"<script>alert('srcdoc')</script>\"></iframe>"),
    Payload("body_onload", "<body onload=alert(1)>"),
    Payload("details_ontoggle", "<details open ontoggle=alert(1)>"),
    Payload("attribute_breakout_double", '"><script>alert(1)</script>'),
    Payload("attribute_breakout_single", "'><img src=x onerror=alert('single')>"),
    Payload("js_string_breakout_single", "'-alert(1)-'"),
    Payload("js_string_breakout_double", '";alert(1);//'),
    Payload("hx_get_on_load", '<div hx-get="/api/v1/leak-hx" hx-trigger="load">hx</div>'),
    Payload("hx_on_load", '<div hx-on:load="alert(1)">hx-on</div>'),
    Payload("hx_on_htmx_event", '<div hx-get="/leak-hx-on" hx-trigger="load" hx-on::after-request="alert(1)">x</div>'),
    Payload("hx_post_logout", '<div hx-post="/logout/" hx-trigger="load">bye</div>'),
    Payload("data_hx_get", '<div data-hx-get="/leak-data-hx" data-hx-trigger="load">data-hx</div>'),
    Payload("hx_swap_oob", '<div id="workspace" hx-swap-oob="true">workspace owned</div>'),
    Payload("ws_connect", '<div hx-ext="ws" ws-connect="/ws/leak/">ws</div>'),
    Payload(
        "form_autofocus_onfocus",
        '<form action="http://127.0.0.1:1/leak-form"><input autofocus onfocus=alert(1)><button>go</button></form>',
    ),
    Payload("button_formaction", '<button formaction="javascript:alert(1)">b</button>'),
    Payload("django_template", "{{ request.user }} {% debug %} {% load static %} {{ settings.SECRET_KEY }}"),
    Payload("other_template_syntax", "{{ 7*7 }} ${7*7} #{7*7} <%= 7*7 %> {{ ''.__class__.__mro__ }}"),
    Payload("markdown_javascript_link", "[click](javascript:alert(1))"),
    Payload("markdown_image_leak", "![x](http://127.0.0.1:1/leak.png)"),
    Payload("meta_refresh", '<meta http-equiv="refresh" content="0;url=http://127.0.0.1:1/leak-refresh">'),
    Payload("base_href", '<base href="http://127.0.0.1:1/leak-base/">'),
    Payload("link_stylesheet", '<link rel=stylesheet href="http://127.0.0.1:1/leak.css">'),
    Payload("style_import", '<style>@import url("http://127.0.0.1:1/leak-import.css");</style>'),
    Payload(
        "css_expression",
        '<div style="width: expression(alert(1)); background: url(http://127.0.0.1:1/leak-bg.png)">css</div>',
    ),
    Payload("data_url", '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">data</a>'),
    Payload("object_data", '<object data="http://127.0.0.1:1/leak-object"></object>'),
    Payload("embed_src", '<embed src="http://127.0.0.1:1/leak-embed">'),
    Payload("template_element", "<template><img src=x onerror=alert('template')></template>"),
    Payload("noscript_mxss", '<noscript><p title="</noscript><img src=x onerror=alert(1)>">'),
    Payload("svg_style_mxss", '<svg></p><style><a id="</style><img src=x onerror=alert(1)>">'),
    Payload("math_mxss", "<math><mtext><table><mglyph><style><img src=x onerror=alert('math')>"),
    Payload("comment_breakout", "--><script>alert(1)</script><!--"),
    Payload("textarea_breakout", "</textarea><script>alert('textarea')</script>"),
    Payload("title_breakout", "</title><script>alert('title')</script>"),
    Payload("cdata", "<![CDATA[<script>alert(1)</script>]]>"),
    Payload("html_entities", "&lt;script&gt;alert(1)&lt;/script&gt; &amp;lt; &#60;img src=x onerror=alert(1)&#62;"),
    Payload("js_unicode_escapes", r"\u003cscript\u003ealert(1)\u003c/script\u003e"),
    Payload("url_encoded", "%3Cscript%3Ealert(1)%3C%2Fscript%3E"),
    Payload("nested_quotes", '"\'`><img src=x onerror="alert(\'\\"q\\"\')">'),
    Payload("bidi_overrides", "invoice_\u202egnp.exe\u202c and \u2066isolate\u2069 \u2067rtl\u2069 \u2068first\u2069"),
    # Unterminated: as a detector or category it would run on into the score printed after it.
    Payload("bidi_unterminated_override", "spoof\u202e"),
    Payload("zero_width", "pass\u200bword zero\u200dwidth\ufeffjoiner"),
    Payload("homoglyphs", "\u0440\u0430ypal.com \u0430dmin g\u043e\u043egle"),
    Payload(
        "control_characters", "bell\x07 backspace\x08 escape\x1b[31mred\x1b[0m del\x7f nel\x85 ls\u2028ps\u2029 end"
    ),
    Payload("very_long_line", "<img src=x onerror=alert('long')>" + "A" * 3_000 + LONG_TAIL),
]

BY_NAME = {payload.name: payload for payload in PAYLOADS}
assert len(BY_NAME) == len(PAYLOADS), "payload names are unique"

# One field holds everything where it can; reasons are limited to 2,000 characters by the form.
BULK = "\n".join(payload.text for payload in PAYLOADS)
REASON = "\n".join(p.text for p in PAYLOADS if len(p.text) < 120)[:1_990].rsplit("\n", 1)[0]

# The blurred turn: hidden until revealed, then swapped in by htmx (which processes what it swaps).
BLURRED = 'revealed <img src=x onerror=alert(\'revealed\')><div hx-get="/leak-revealed" hx-trigger="load">r</div>'

EXTERNAL_IDS = {
    "held": "held\"><script>alert('ext')</script><img src=x onerror=alert(1)>{{ request.user }}\u202eA",
    "decided": "decided'><img src=x onerror=alert('ext-decided')>",
    "escalated": "escalated</title><script>alert('ext-escalated')</script>",
}
MODELS = {
    "held": "<svg onload=alert('model')><script>alert(1)</script>",
    "decided": "</title><script>alert('model-decided')</script>",
    "escalated": '"><img src=x onerror=alert("model-escalated")>',
}
# What only a leaked payload would put in a URL or an htmx attribute (our own pages never do).
URL_MARKERS = ("alert", "leak", "127.0.0.1:1")
HTMX_MARKERS = (*URL_MARKERS, "/logout/", "javascript:")
SCRIPT_SCHEMES = ("javascript", "data", "vbscript")


def _flag(text: str, *, score: float = 0.85, index: int | None = None, prefix: str = "") -> dict[str, Any]:
    return {
        "detector": (prefix + text)[:200],
        "category": text[:100],
        "score": score,
        "explanation": text,
        "message_index": index,
    }


def held_conversation() -> dict[str, Any]:
    """Every payload as a turn, with a flag pinned to it; two whole-conversation flags; a blurred last turn."""
    messages = [{"role": ("user", "assistant")[i % 2], "content": p.text} for i, p in enumerate(PAYLOADS)]
    messages.append({"role": "assistant", "content": BLURRED})
    flags = [_flag(p.text, index=i) for i, p in enumerate(PAYLOADS)]
    flags.append(_flag(BY_NAME["hx_get_on_load"].text, score=0.5, prefix="unpinned "))
    flags.append(_flag(BY_NAME["title_breakout"].text, score=0.4, prefix="whole "))
    # violent-crime blurs by default; under 0.5 it blurs only the turn it is pinned to.
    flags.append({"detector": "guard", "category": "violent-crime", "score": 0.4, "message_index": len(PAYLOADS)})
    metadata: dict[str, Any] = {p.name: p.text for p in PAYLOADS}
    metadata.update({f"key {p.text}": p.name for p in PAYLOADS})
    metadata["nested"] = {BY_NAME["script_tag"].text: [BY_NAME["img_onerror"].text]}
    return {
        "external_id": EXTERNAL_IDS["held"],
        "model": MODELS["held"],
        "messages": messages,
        "flags": flags,
        "metadata": metadata,
    }


def small_conversation(key: str, ask: Payload, answer: Payload) -> dict[str, Any]:
    return {
        "external_id": EXTERNAL_IDS[key],
        "model": MODELS[key],
        "messages": [{"role": "user", "content": ask.text}, {"role": "assistant", "content": answer.text}],
        "flags": [_flag(answer.text, index=1)],
        "metadata": {ask.text: answer.text},
    }


@dataclass(frozen=True)
class Planted:
    held: ReviewItem  # claimed by the reviewer: the whole corpus as turns, flags, scores and metadata
    decided: ReviewItem  # the reviewer's decision: BULK as rationale and preferred response
    escalated: ReviewItem  # escalated by the reviewer with REASON
    senior_item: ReviewItem  # the escalation, resolved by the senior with BULK as rationale
    decision: Decision
    resolution: Decision
    escalation: Escalation
    dataset: Dataset
    blurred_index: int


OnCommit = Callable[[], contextlib.AbstractContextManager[Any]]


def _ingest(api: Any, conversation: dict[str, Any], on_commit: OnCommit) -> Conversation:
    with on_commit():
        response = api.post("/api/v1/conversations", {"conversations": [conversation]})
    assert response.status_code == 202, response.content
    return Conversation.objects.get(pk=response.json()["ids"][0])


def _claim(client: Client, queue: str, conversation: Conversation) -> ReviewItem:
    response = client.post(f"/queues/{queue}/next/")
    assert response.status_code == 302, response.status_code
    item = ReviewItem.objects.get(pk=int(response["Location"].rstrip("/").split("/")[-1]))
    assert item.conversation_id == conversation.pk, "the planted conversation is the one claimed"
    return item


def _post(client: Client, url: str, data: dict[str, Any]) -> None:
    response = client.post(url, data)
    assert response.status_code == 302, (url, response.status_code, response.content[:500])


def plant_corpus(
    *, api: Any, reviewer: User, senior: User, admin: User, on_commit: OnCommit = contextlib.nullcontext
) -> Planted:
    """Plant the corpus everywhere through the real API and workspace views (see the module docstring).

    `on_commit` wraps each write whose follow-up runs on commit (scoring and routing, in-process here);
    pass pytest-django's `django_capture_on_commit_callbacks(execute=True)` inside a test transaction.
    """
    rita, sam = Client(), Client()
    rita.force_login(reviewer)
    sam.force_login(senior)

    conversation = _ingest(api, small_conversation("decided", BY_NAME["svg_onload"], BY_NAME["img_onerror"]), on_commit)
    decided = _claim(rita, "triage", conversation)
    _post(
        rita,
        f"/items/{decided.pk}/decide/",
        {
            "verdict": "harmful_compliance",
            "categories": ["cyber"],
            "severity": "2",
            "rationale": BULK,
            "preferred_response": BULK,
        },
    )

    conversation = _ingest(
        api, small_conversation("escalated", BY_NAME["hx_post_logout"], BY_NAME["noscript_mxss"]), on_commit
    )
    escalated = _claim(rita, "triage", conversation)
    _post(rita, f"/items/{escalated.pk}/escalate/", {"reason": REASON})
    senior_item = _claim(sam, "escalation", conversation)
    _post(
        sam, f"/items/{senior_item.pk}/decide/", {"verdict": "appropriate_refusal", "severity": "1", "rationale": BULK}
    )

    conversation = _ingest(api, held_conversation(), on_commit)
    held = _claim(rita, "triage", conversation)

    # A snapshot takes a single review only past its queue's edit window: close triage's while the snapshot is
    # built (so the decision exports), then open it again (so the reviewer's edit page still shows the form).
    window = Queue.objects.get(slug="triage").edit_window_minutes
    Queue.objects.filter(slug="triage").update(edit_window_minutes=0)
    dataset = dataset_create(kind="preference", actor=admin, enqueue=False)
    dataset = dataset_build(dataset_id=dataset.pk)
    Queue.objects.filter(slug="triage").update(edit_window_minutes=window)

    return Planted(
        held=held,
        decided=decided,
        escalated=escalated,
        senior_item=senior_item,
        decision=Decision.objects.get(item=decided),
        resolution=Decision.objects.get(item=senior_item),
        escalation=Escalation.objects.get(item=escalated),
        dataset=dataset,
        blurred_index=len(PAYLOADS),
    )


# --- What a leak looks like in HTML ---------------------------------------------------------------------------

# Elements our templates (and Django's admin) never emit; from conversation text they would be a leak.
FORBIDDEN_TAGS = {
    "iframe", "frame", "frameset", "object", "embed", "applet", "base", "math", "template", "style", "noscript",
    "video", "audio", "source", "track", "xmp", "plaintext", "marquee", "portal",
}  # fmt: skip
URL_ATTRIBUTES = {"href", "src", "srcset", "action", "formaction", "data", "poster", "background", "ping", "xlink:href"}


class _Inspector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.violations: list[str] = []
        self.bodies = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        where = f"<{tag} {' '.join(f'{n}={v!r}' for n, v in values.items())[:200]}>"
        problems = [problem for name, value in values.items() for problem in _attribute_problems(name, value)]
        if tag in FORBIDDEN_TAGS:
            problems.append("forbidden element")
        if tag == "body":
            self.bodies += 1
            if self.bodies > 1:
                problems.append("a second <body>")
        if tag == "script" and not (
            values.get("src", "").startswith(("/static/", "/admin/jsi18n/")) or values.get("type") == "application/json"
        ):
            problems.append("inline or foreign script")
        if tag in ("img", "link") and not (values.get("src") or values.get("href") or "").startswith("/static/"):
            problems.append("foreign resource")
        if tag == "meta" and "http-equiv" in values:
            problems.append("meta http-equiv")
        self.violations.extend(f"{problem}: {where}" for problem in problems)

    handle_startendtag = handle_starttag


def _attribute_problems(name: str, value: str) -> list[str]:
    problems = []
    if name.startswith("on"):
        problems.append(f"event handler {name}")
    if name == "style" or name == "srcdoc":
        problems.append(f"attribute our templates never use: {name}")
    if name.startswith(("hx-on", "data-hx")):
        problems.append(f"htmx attribute our templates never use: {name}")
    htmx = name.startswith(("hx-", "ws-")) and name != "hx-headers"  # hx-headers holds the CSRF token
    if htmx and any(marker in value.lower() for marker in HTMX_MARKERS):
        problems.append(f"payload marker in {name}")
    if name in URL_ATTRIBUTES:
        # Browsers drop tabs and newlines inside a scheme. The query is left out: the admin's own links carry
        # a search term there, and a query cannot make a request unless the element itself leaked.
        url = urlsplit("".join(ch for ch in value if ch > " ").lower())
        if url.scheme in SCRIPT_SCHEMES or url.netloc or url.path.startswith("//"):
            problems.append(f"script or off-site URL in {name}")
        if any(marker in unquote(url.path) for marker in URL_MARKERS):
            problems.append(f"payload marker in {name}")
    return problems


def inert_violations(html: str) -> list[str]:
    """Everything in `html` that could run, load or send something a payload chose (empty: inert)."""
    inspector = _Inspector()
    inspector.feed(html)
    inspector.close()
    return inspector.violations
