from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TimersConfig(AppConfig):
    name = "referral_engine.timers"
    label = "timers"
    verbose_name = _("期限・エスカレーション")
