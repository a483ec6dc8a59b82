from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SecurityConfig(AppConfig):
    name = "referral_engine.security"
    label = "security"
    verbose_name = _("セキュリティ")

    def ready(self) -> None:
        from django.core.signals import got_request_exception

        from referral_engine.security.middleware import mark_database_unavailable

        got_request_exception.connect(mark_database_unavailable, dispatch_uid="security.database_unavailable")
