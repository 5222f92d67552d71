"""The Datasets page's websocket: snapshot builds' progress, for users who may export. No writes."""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async

from reviews.live.broadcast import DATASETS_GROUP
from reviews.live.consumers import HtmlConsumer
from reviews.permissions import can_export


def _dataset_groups(user: Any) -> list[str]:
    return [DATASETS_GROUP] if can_export(user) else []


class DatasetConsumer(HtmlConsumer):
    """Snapshot builds' progress for the Datasets page; only for users who may export."""

    async def groups_for(self, user: Any) -> list[str]:
        return await database_sync_to_async(_dataset_groups)(user)
