"""Websocket URLs (mounted in oversight/asgi.py behind session auth and an origin check)."""

from django.urls import path

from reviews.consumers import DatasetConsumer, ItemConsumer, QueueConsumer

websocket_urlpatterns = [
    path("ws/queues/", QueueConsumer.as_asgi()),
    path("ws/items/<int:pk>/", ItemConsumer.as_asgi()),
    path("ws/datasets/", DatasetConsumer.as_asgi()),
]
