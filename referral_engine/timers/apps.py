from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TimersConfig(AppConfig):
    """No signal receivers: the case services call the timers' functions themselves, after the row
    is saved (`timers_plan_new` / `timers_start_new` for a new case or referral; docs/timers.md)."""

    name = "referral_engine.timers"
    label = "timers"
    verbose_name = _("期限・エスカレーション")
