"""The one Django app of the product: label `reviews`, every model and migration."""

from django.apps import AppConfig


class ReviewsConfig(AppConfig):
    name = "reviews"
    verbose_name = "Reviews"

    def ready(self) -> None:
        from reviews import lookups  # noqa: F401  (registers the `__any` lookup)
