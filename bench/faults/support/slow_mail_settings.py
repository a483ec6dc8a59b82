"""Production settings with a console mail backend that takes a while per message (fault scripts only).

`worker_kill.py` kills a mailer a quarter of the way through a batch; with the plain console backend
a worker delivers a hundred mails before the script has even seen it start, so the kill came after
the batch (CI, 2026-12-03). Each message here takes `FAULT_MAIL_SECONDS` (default 0.05 s), as a real
SMTP hand-over does, so the batch lasts long enough to be interrupted.
"""

import os
import time

from django.core.mail.backends.console import EmailBackend as ConsoleBackend

from referral_engine.settings.production import *  # noqa: F403

EMAIL_BACKEND = "slow_mail_settings.SlowConsoleBackend"


class SlowConsoleBackend(ConsoleBackend):
    def send_messages(self, email_messages):
        time.sleep(float(os.environ.get("FAULT_MAIL_SECONDS", "0.05")) * len(email_messages))
        return super().send_messages(email_messages)
