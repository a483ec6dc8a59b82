from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ObservabilityConfig(AppConfig):
    name = "referral_engine.observability"
    label = "observability"
    verbose_name = _("運用監視")
