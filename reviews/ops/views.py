"""`/metrics`: the Prometheus scrape target, for a token or an allowed network (reviews/ops/metrics.py)."""

from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from reviews.ops.metrics import MetricsAccess, metrics_access, metrics_render


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    access = metrics_access(
        authorization=request.headers.get("Authorization"),
        client_ip=request.META.get("REMOTE_ADDR"),
        forwarded="X-Forwarded-For" in request.headers,
    )
    if access is MetricsAccess.WRONG_TOKEN:
        response = HttpResponse("Wrong metrics token.\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    if access is MetricsAccess.FORBIDDEN:
        return HttpResponse(
            "Metrics need a token or an allowed network (METRICS_TOKEN, METRICS_ALLOWED_NETWORKS).\n",
            status=403,
            content_type="text/plain",
        )
    return HttpResponse(metrics_render(), content_type=CONTENT_TYPE_LATEST)
