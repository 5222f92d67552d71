"""Websocket URLs (mounted in oversight/asgi.py behind session auth and an origin check)."""

from django.urls import path

from reviews.datasets.consumers import DatasetConsumer
from reviews.workspace.consumers import ItemConsumer, QueueConsumer

websocket_urlpatterns = [
    path("ws/queues/", QueueConsumer.as_asgi()),
    path("ws/items/<int:pk>/", ItemConsumer.as_asgi()),
    path("ws/datasets/", DatasetConsumer.as_asgi()),
]
