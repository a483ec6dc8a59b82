from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DisastersConfig(AppConfig):
    name = "referral_engine.disasters"
    label = "disasters"
    verbose_name = _("災害時の安否確認")
