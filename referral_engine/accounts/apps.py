from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "referral_engine.accounts"
    label = "accounts"
    verbose_name = _("組織・利用者")

    def ready(self) -> None:
        from referral_engine.accounts import tokens

        tokens.connect_receivers()
