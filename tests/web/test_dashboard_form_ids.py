"""Each acknowledge form on the dashboard has its own note field id, so every label points at its field."""

import re

from referral_engine.timers.models import Escalation


def test_every_acknowledge_note_has_its_own_id(client, users, open_case):
    cases = [open_case() for _ in range(3)]
    for case in cases:
        Escalation.objects.create(
            case=case,
            object_key=f"case:{case.pk}",
            rule="case_stall",
            level=2,
            department=case.lead_department,
            due_at=case.created_at,
        )
    client.force_login(users["chief_welfare"])
    html = client.get("/dashboard/").content.decode()
    ids = re.findall(r'<textarea[^>]*\bid="([^"]+)"', html)
    assert len(ids) == 3 and len(set(ids)) == 3
    for field_id in ids:
        assert f'for="{field_id}"' in html
