"""What the rescoring encoder reads of a conversation.

The model judges one exchange: the **request** (the last user turn before the judged
reply, with the earlier turns as context) and the **reply** (the assistant's answer to
it). `text_views` gives the two as separate texts, each read by the encoder in its own
256-word-piece window (about 1,000 characters of English):

* request view: the request itself, then up to `CONTEXT_CHARS` of the earlier turns.
  A request longer than `REQUEST_CHARS` keeps its head and its tail (jailbreak
  templates often put the actual question at the end);
* reply view: the reply in chunks of `CHUNK_CHARS` (the encoder pools the chunk
  vectors), so a long answer is read whole up to `MAX_CHUNKS` chunks (then its head and
  tail chunks), never clipped to a few hundred characters. Tool turns and intermediate
  assistant turns between the request and the final reply (an agent calling tools) are
  part of the reply view, each tool result clipped to `TOOL_CHARS`: what the assistant
  did matters, what a tool returned is evidence, not the assistant's answer;
* opening: the first `OPENING_CHARS` of the final answer, read on its own. Whether a
  model refused or complied is nearly always said in its first sentence ("I can't help
  with that", "Sure, here are the steps"), and pooled over a long answer that sentence
  is one voice among many;
* a conversation whose last turn is a user turn (input guardrails, user reports) is
  judged on that turn as a request without a reply (`reply_chunks == []`).

`conversation_text` is the older single text (the user turn and a clipped reply), kept
for the vectors of models trained before the views (their embedding-cache key).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

CONTEXT_CHARS = 160
USER_CHARS = 560
ASSISTANT_CHARS = 440
REQUEST_CHARS = 840  # with the context, about 250 word-pieces
REQUEST_HEAD_CHARS = 280  # of a request longer than REQUEST_CHARS: its first 280 and last 560 characters
CHUNK_CHARS = 900  # one reply chunk: about 225 word-pieces, inside the window with room for odd tokens
MAX_CHUNKS = 8  # a reply longer than 7,200 characters: its first 6 and last 2 chunks
TOOL_CHARS = 160
OPENING_CHARS = 256  # about 60 word-pieces: the first sentence or two of the final answer
VIEWS_VERSION = "views-2"  # part of the embedding-cache key: change it when the views change (views-1: no opening)
_LABELS = {"system": "System", "user": "User", "assistant": "Assistant", "tool": "Tool"}


@dataclass(frozen=True)
class TextViews:
    request: str
    reply_chunks: list[str] = field(default_factory=list)  # [] = no reply: the request is what is judged
    opening: str = ""  # the final answer's first OPENING_CHARS ("" when there is no reply)

    @property
    def judged(self) -> Literal["request", "response"]:
        return "response" if self.reply_chunks else "request"

    @property
    def response(self) -> str:
        """The reply as the encoder reads it, its chunks joined ("" when the request alone is judged)."""
        return "".join(self.reply_chunks)

    @property
    def text(self) -> str:
        """Both views in one string, for tools that take a single text: the request, then the response."""
        return f"Request: {self.request}\nResponse: {self.response}" if self.reply_chunks else self.request


def _squash(text: str) -> str:
    return " ".join(str(text).split())  # whitespace carries no meaning for the encoder


def _clip(text: str, limit: int) -> str:
    text = _squash(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _head_tail(text: str, limit: int, head: int) -> str:
    return text if len(text) <= limit else text[:head] + " … " + text[-(limit - head) :]


def judged_turn(messages: Sequence[dict[str, Any]]) -> int:
    """Index of the last assistant message, or of the last message when there is none."""
    for index in range(len(messages) - 1, -1, -1):
        if messages[index].get("role") == "assistant":
            return index
    return len(messages) - 1


def _role(message: dict[str, Any]) -> str:
    return str(message.get("role", ""))


def _request_index(messages: Sequence[dict[str, Any]]) -> tuple[int, bool]:
    """(index of the judged request, whether a reply follows it).

    The judged request is the last user turn. A reply follows it when an assistant turn
    comes after it; a conversation that ends with a user turn is judged on that turn alone.
    With no user turn at all, the request is empty (-1) and the assistant turns are the reply.
    """
    last_user = max((i for i, m in enumerate(messages) if _role(m) == "user"), default=-1)
    has_reply = any(_role(m) == "assistant" for m in messages[last_user + 1 :])
    return last_user, has_reply


def _chunks(text: str) -> list[str]:
    pieces = [text[i : i + CHUNK_CHARS] for i in range(0, len(text), CHUNK_CHARS)] or [""]
    if len(pieces) > MAX_CHUNKS:
        pieces = pieces[: MAX_CHUNKS - 2] + pieces[-2:]
    return pieces


def text_views(messages: Sequence[dict[str, Any]]) -> TextViews:
    """The request and reply views of a conversation (see the module docstring)."""
    if not messages:
        return TextViews(request="")
    index, has_reply = _request_index(messages)
    request = _head_tail(_squash(messages[index]["content"]), REQUEST_CHARS, REQUEST_HEAD_CHARS) if index >= 0 else ""
    earlier = messages[:index] if index > 0 else []
    if earlier:
        context = " | ".join(f"{_LABELS.get(_role(m), _role(m))}: {m['content']}" for m in earlier)
        request = f"{request}\nEarlier: {_clip(context, CONTEXT_CHARS)}"
    if not has_reply:
        return TextViews(request=request)
    after = [m for m in messages[index + 1 :] if _role(m) in ("assistant", "tool")]
    last_assistant = max(i for i, m in enumerate(after) if _role(m) == "assistant")
    parts = []
    opening = _squash(after[last_assistant]["content"])[:OPENING_CHARS]
    for position, message in enumerate(after[: last_assistant + 1]):
        if _role(message) == "tool":
            parts.append("Tool: " + _clip(message["content"], TOOL_CHARS))
        elif position < last_assistant:
            parts.append(_clip(message["content"], TOOL_CHARS))  # an intermediate step (a tool call)
        else:
            parts.append(_squash(message["content"]))
    return TextViews(request=request, reply_chunks=_chunks("\n".join(p for p in parts if p)), opening=opening)


def conversation_text(messages: Sequence[dict[str, Any]]) -> str:
    """The older single text: the judged turn with the user turn before it and an earlier-turns prefix."""
    if not messages:
        return ""
    end = judged_turn(messages)
    start = end - 1 if end > 0 and messages[end - 1].get("role") == "user" else end
    parts = []
    if start > 0:
        earlier = " | ".join(f"{_LABELS.get(m['role'], m['role'])}: {m['content']}" for m in messages[:start])
        parts.append("Earlier: " + _clip(earlier, CONTEXT_CHARS))
    for message in messages[start : end + 1]:
        budget = ASSISTANT_CHARS if message["role"] == "assistant" else USER_CHARS
        parts.append(f"{_LABELS.get(message['role'], message['role'])}: {_clip(message['content'], budget)}")
    return "\n".join(parts)
