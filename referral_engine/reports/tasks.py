"""Celery interface of the reports: thin; each takes ids, re-reads and calls a service."""

from celery import shared_task


@shared_task(name="reports.export_run", acks_late=True, ignore_result=True)
def export_run(export_id: int) -> None:
    # acks_late: a worker killed mid-export leaves the message to be redelivered; the service makes
    # an export only from the queued state, so a second delivery does nothing.
    from referral_engine.reports.services import report_export_run

    report_export_run(export_id=export_id)


@shared_task(name="reports.exports_cleanup", ignore_result=True)
def exports_cleanup() -> int:
    from referral_engine.reports.services import report_exports_cleanup

    return report_exports_cleanup()
