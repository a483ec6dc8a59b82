import importlib
import pkgutil

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WorkflowsConfig(AppConfig):
    name = "workflows"
    label = "workflows"
    verbose_name = _("部署の業務フロー")

    def ready(self) -> None:
        # Every module in this package registers one department's workflow on import.
        for module in pkgutil.iter_modules(self.module.__path__):
            if not module.name.startswith("_") and module.name not in {"apps", "migrations"}:
                importlib.import_module(f"{self.name}.{module.name}")
