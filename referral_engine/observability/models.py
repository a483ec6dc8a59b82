from django.db import models
from django.utils.translation import gettext_lazy as _


class Heartbeat(models.Model):
    """The last sign of life of a Celery worker ("worker:<hostname>") or of beat ("beat"), written every
    HEARTBEAT_SECONDS by the process itself and read by /metrics. One row per process name."""

    name = models.CharField(_("名前"), max_length=200, primary_key=True)
    kind = models.CharField(_("種類"), max_length=10)  # worker / beat
    at = models.DateTimeField(_("最終応答"))
    started_at = models.DateTimeField(_("起動日時"))

    class Meta:
        verbose_name = _("ハートビート")
        verbose_name_plural = _("ハートビート")
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} {self.at:%Y-%m-%d %H:%M:%S}"
