from django.apps import AppConfig
from django.db.models.signals import post_save
from django.utils.translation import gettext_lazy as _


class TimersConfig(AppConfig):
    name = "referral_engine.timers"
    label = "timers"
    verbose_name = _("期限・エスカレーション")

    def ready(self) -> None:
        from referral_engine.cases.models import Case, Referral
        from referral_engine.timers.services import timers_sync_after_insert

        # The case services ask for deadlines before a new case or referral has a primary key; the
        # clocks are written right after its INSERT, in the same transaction (see the receiver).
        for model in (Case, Referral):
            post_save.connect(timers_sync_after_insert, sender=model, dispatch_uid=f"timers-sync-{model.__name__}")
