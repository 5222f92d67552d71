from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from reviews.selectors import active_scoring_model, queue_overview


@login_required
def home(request: HttpRequest) -> HttpResponse:
    context = {"queues": queue_overview(user=request.user), "scoring_model": active_scoring_model()}
    return TemplateResponse(request, "reviews/home.html", context)
