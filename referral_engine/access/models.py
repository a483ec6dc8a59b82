"""Direct foreign-key object permissions (LIBRARIES.md: never guardian's generic tables).

Group rows carry `granted_at`: when an event made or last renewed the department's grant. A caseworker
who joins the department later reaches the row only once an event renews it (docs/permissions.md).
"""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase

from referral_engine.cases.models import Case, Referral


class CaseUserObjectPermission(UserObjectPermissionBase):
    content_object = models.ForeignKey(Case, on_delete=models.CASCADE)


class CaseGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(Case, on_delete=models.CASCADE)
    granted_at = models.DateTimeField(_("付与日時"), default=timezone.now, editable=False)


class ReferralUserObjectPermission(UserObjectPermissionBase):
    content_object = models.ForeignKey(Referral, on_delete=models.CASCADE)


class ReferralGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(Referral, on_delete=models.CASCADE)
    granted_at = models.DateTimeField(_("付与日時"), default=timezone.now, editable=False)
