from django.apps import AppConfig


class LoadgenConfig(AppConfig):
    """Development only (settings.local and settings.test): the `generate_load` command."""

    name = "bench.loadgen"
    label = "loadgen"
    verbose_name = "Load generator (benchmarks)"
