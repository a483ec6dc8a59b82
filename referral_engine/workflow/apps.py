from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WorkflowConfig(AppConfig):
    name = "referral_engine.workflow"
    label = "workflow"
    verbose_name = _("業務フローの登録")

    def ready(self) -> None:
        from referral_engine.workflow import checks  # noqa: F401 - registers workflows.E001…E013, W001
