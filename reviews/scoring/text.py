"""What the rescoring encoder reads of a conversation.

The judged turn is the last assistant message, read with the user message before
it: that pair decides the verdict (harmful request? did the model comply?). Earlier
turns add context but are the first to go: the encoder reads only 256 word-pieces
(about 1,000 characters of English), so each part gets a character budget and
the pair is never crowded out by a long history. Roles are marked so the encoder
can tell a request from an answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

CONTEXT_CHARS = 160
USER_CHARS = 560
ASSISTANT_CHARS = 440
_LABELS = {"system": "System", "user": "User", "assistant": "Assistant", "tool": "Tool"}


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())  # whitespace carries no meaning for the encoder
    return text if len(text) <= limit else text[: limit - 1] + "…"


def judged_turn(messages: Sequence[dict[str, Any]]) -> int:
    """Index of the last assistant message, or of the last message when there is none."""
    for index in range(len(messages) - 1, -1, -1):
        if messages[index].get("role") == "assistant":
            return index
    return len(messages) - 1


def conversation_text(messages: Sequence[dict[str, Any]]) -> str:
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
