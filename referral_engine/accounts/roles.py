"""Role names are contracts (DESIGN §2): each is a Django group of exactly this name."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    FRONT_DESK = "front_desk", _("窓口職員")
    CASEWORKER = "caseworker", _("担当職員")
    SUPERVISOR = "supervisor", _("係長・班長")
    AUDITOR = "auditor", _("監査担当")
    CONNECTOR = "connector", _("つなぎ役（民生委員等）")
    ADMIN = "admin", _("システム管理者")


STAFF_ROLES = {Role.FRONT_DESK, Role.CASEWORKER, Role.SUPERVISOR}
DESK_DEPARTMENT_CODE = "social_welfare"  # its supervisor is the desk supervisor (sees every case)
