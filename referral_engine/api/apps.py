from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ApiConfig(AppConfig):
    name = "referral_engine.api"
    label = "api"
    verbose_name = _("API")

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        from referral_engine.prepared import use_preparing_cursor

        connection_created.connect(use_preparing_cursor, dispatch_uid="prepared.use_preparing_cursor")
