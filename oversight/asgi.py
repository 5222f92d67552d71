"""ASGI entry point: Django for HTTP, Channels for websockets."""

import gc
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oversight.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter  # noqa: E402  (needs Django set up first)

application = ProtocolTypeRouter({"http": django_asgi_app})

# Everything loaded so far lives as long as the process: keep it out of the cyclic
# collector's full passes, which otherwise rescan it while big ingest batches churn.
gc.freeze()
