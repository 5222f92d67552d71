"""ASGI entry point: Django for HTTP, Channels for websockets."""

import gc
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oversight.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402  (needs Django set up first)
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from reviews.live.access import SameOriginValidator  # noqa: E402
from reviews.ws_urls import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # Same origin only (scheme, host and port), and the session decides who you are: consumers refuse
        # anonymous users, and re-check the session and access on every push.
        "websocket": SameOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)

# Everything loaded so far lives as long as the process: keep it out of the cyclic
# collector's full passes, which otherwise rescan it while big ingest batches churn.
gc.freeze()
