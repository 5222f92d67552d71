"""The home page: the queues the signed-in user may work."""

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.views.decorators.http import require_GET

from reviews.htmx import HtmxRequest, render_region
from reviews.workspace.comments import mentions_unread
from reviews.workspace.selectors import active_scoring_model, queue_overview


@login_required
@require_GET
def home(request: HtmxRequest) -> HttpResponse:
    """The queues the user may work; the `queues` region polls itself so counts stay current without websockets."""
    context = {
        "queues": queue_overview(user=request.user),
        "scoring_model": active_scoring_model(),
        "mentions": [] if request.htmx else mentions_unread(user=request.user),  # the polled region shows none
    }
    return render_region(request, "reviews/workspace/home.html", "queues", context)
