from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


def _test_environment_active() -> bool:
    # Django's setup_test_environment() creates mail.outbox and teardown removes it (documented).
    from django.core import mail

    return hasattr(mail, "outbox")


def _allow_truncate_in_tests(sender, connection, **kwargs) -> None:
    """Django's test framework empties the database with TRUNCATE after transactional tests; the
    append-only trigger lets a session through only when it opted in and owns the table (the owner,
    or a local run's superuser), and only tests opt in. The application role is refused regardless."""
    if connection.vendor == "postgresql" and _test_environment_active():
        from referral_engine.audit.append_only import ALLOW_TRUNCATE_SETTING

        with connection.cursor() as cursor:
            cursor.execute(f"SET {ALLOW_TRUNCATE_SETTING} = 'on'")


class AuditConfig(AppConfig):
    name = "referral_engine.audit"
    label = "audit"
    verbose_name = _("監査")

    def ready(self) -> None:
        from django.db.backends.signals import connection_created
        from django.db.models.signals import post_migrate, post_save, pre_save

        from referral_engine.audit import checks  # noqa: F401 - registers audit.E001
        from referral_engine.audit.database_roles import database_roles_after_migrate
        from referral_engine.audit.history import history_skip_cleanup, history_skip_unchanged
        from referral_engine.audit.stored_dates import stored_dates_tolerant

        # Connected after simple-history's own post_save receivers (they connect at class creation),
        # so the cleanup runs after the history row was (not) written.
        pre_save.connect(history_skip_unchanged, dispatch_uid="audit.history_skip_unchanged")
        post_save.connect(history_skip_cleanup, dispatch_uid="audit.history_skip_cleanup")
        connection_created.connect(_allow_truncate_in_tests, dispatch_uid="audit.allow_truncate_in_tests")
        # The application role's grants, as the owner, after every migrate (once: sender=this app).
        post_migrate.connect(database_roles_after_migrate, sender=self, dispatch_uid="audit.database_roles")

        # A date stored outside Python's years reads as a far date, not a 500 (issue 16).
        connection_created.connect(stored_dates_tolerant, dispatch_uid="audit.stored_dates_tolerant")
