from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class AccessConfig(AppConfig):
    name = "referral_engine.access"
    label = "access"
    verbose_name = _("アクセス権")

    def ready(self) -> None:
        from referral_engine.access.permissions import forget_permission_ids

        post_migrate.connect(forget_permission_ids, dispatch_uid="access.forget_permission_ids")
