"""Request and response schemas of the public API (`/api/v1/`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from ninja import Schema
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, Strict, StrictInt, field_validator

MAX_BATCH = 1000
MAX_JSON_DEPTH = 32


def _clean_text(value: str) -> str:
    """Reject text PostgreSQL cannot store or that cannot round-trip as UTF-8."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid UTF-8 (no lone surrogates)") from None
    return value


def _clean_json(value: Any, depth: int = 0) -> Any:
    if depth > MAX_JSON_DEPTH:
        raise ValueError(f"is nested deeper than {MAX_JSON_DEPTH} levels")
    if isinstance(value, str):
        return _clean_text(value)
    if isinstance(value, dict):
        return {_clean_text(k): _clean_json(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean_json(v, depth + 1) for v in value]
    return value


# Strict: a string, boolean or float where JSON should carry a number (or an integer) is a client's bug,
# not something to guess at ("0.5" → 0.5, true → 1.0, 1.0 → 1). An integer is still a number.
Text = Annotated[str, Strict(), AfterValidator(_clean_text)]
Probability = Annotated[float, Strict()]
Role = Literal["system", "user", "assistant", "tool"]


class _In(BaseModel):
    """Input models are plain pydantic: ninja's Schema adds a per-object hook that triples ingest validation."""

    model_config = ConfigDict(extra="ignore")


class MessageIn(_In):
    role: Role
    content: Text = Field(max_length=200_000)


class FlagIn(_In):
    detector: Text = Field(min_length=1, max_length=200)
    category: Text = Field(min_length=1, max_length=100)
    score: Probability = Field(ge=0, le=1, allow_inf_nan=False)
    explanation: Text = Field(default="", max_length=10_000)
    message_index: StrictInt | None = Field(default=None, ge=0, description="The turn the flag concerns.")


class ConversationIn(_In):
    external_id: Text = Field(min_length=1, max_length=255)
    model: Text = Field(default="", max_length=200)
    messages: list[MessageIn] = Field(min_length=1, max_length=500)
    flags: list[FlagIn] = Field(default_factory=list, max_length=200)
    metadata: dict[str, Any] = Field(default_factory=dict)

    @field_validator("metadata")
    @classmethod
    def _metadata_is_clean(cls, value: dict[str, Any]) -> dict[str, Any]:
        cleaned: dict[str, Any] = _clean_json(value)
        return cleaned

    @field_validator("flags")
    @classmethod
    def _flags_point_at_messages(cls, flags: list[FlagIn], info: Any) -> list[FlagIn]:
        count = len(info.data.get("messages") or [])
        for flag in flags:
            if flag.message_index is not None and flag.message_index >= count:
                raise ValueError(f"message_index {flag.message_index} is past the last message ({count - 1})")
        return flags


class IngestIn(_In):
    conversations: list[ConversationIn] = Field(min_length=1, max_length=MAX_BATCH)


class IngestOut(Schema):
    accepted: int
    duplicates: int
    ids: list[int] = Field(description="Conversation ids in request order; duplicates give the stored id.")


class ErrorDetail(Schema):
    field: str
    message: str
    conversation_index: int | None = None


class ErrorOut(Schema):
    error: str
    message: str
    details: list[ErrorDetail] = Field(default_factory=list)


class FlagOut(Schema):
    detector: str
    category: str
    score: float
    explanation: str
    message_index: int | None


class VerdictsOut(Schema):
    """The model's verdict grid: four probabilities that sum to 1."""

    harmful_compliance: float = Field(description="Harmful request, the model complied: the failure to catch.")
    appropriate_refusal: float = Field(description="Harmful request, the model refused.")
    over_refusal: float = Field(description="Benign request, the model refused: the other failure.")
    appropriate_help: float = Field(description="Benign request, the model helped.")


class ScoreOut(Schema):
    producer: str = Field(description="'fallback' (detectors' own scores) or 'model-v<N>'.")
    model_version: int | None
    risk: float = Field(
        description="What queues order by: P(harmful compliance); P(harmful request) when judged is 'request'; "
        "the detectors' highest score for the fallback."
    )
    verdicts: VerdictsOut | None = Field(
        description="The four verdict probabilities (sum to 1); null for the fallback, a request with no "
        "response, and models trained before the verdict grid."
    )
    judged: Literal["response", "request"] = Field(
        description="'response': the reply to the last user turn was judged; 'request': the conversation ends "
        "with a user turn, so the request alone was."
    )
    categories: dict[str, float]
    created_at: datetime


class DecisionOut(Schema):
    id: int
    verdict: str
    categories: list[str]
    severity: int
    is_final: bool
    is_imported: bool
    created_at: datetime


class ReviewItemOut(Schema):
    id: int
    queue: str
    status: str
    priority: float
    due_at: datetime | None
    reviews_required: int
    reviews_done: int
    decisions: list[DecisionOut]


class ConversationOut(Schema):
    id: int
    source: str
    external_id: str
    model: str
    messages: list[dict[str, Any]]
    metadata: dict[str, Any]
    received_at: datetime
    scoring_status: str
    flags: list[FlagOut]
    scores: list[ScoreOut]
    review_items: list[ReviewItemOut]


class HealthOut(Schema):
    status: Literal["ok", "degraded", "down"]
    database: str
    broker: str
    workers: str
