"""The in-app notification may show a reason to those allowed to see it (issue 22, item 4): the
inbox page shows a notification's body while its reader may still see the case, and only the title
after that (e.g. once they moved to another department). The link is built when the page is shown."""

from __future__ import annotations

from referral_engine.notifications.models import Notification
from referral_engine.notifications.services import notifications_queue


def test_a_decline_reason_shows_in_the_inbox_of_who_may_see_the_case(as_user, referred_case, users):
    longevity = referred_case.referrals.get(to_department__code="longevity_support")
    as_user("worker_longevity").post(
        f"/referrals/{longevity.pk}/transition/", {"name": "decline", "reason": "対象年齢ではありません"}
    )
    assert Notification.objects.filter(recipient=users["desk_welfare"], kind="referral_decline").exists()

    html = as_user("desk_welfare").get("/notifications/").content.decode()

    assert "理由: 対象年齢ではありません" in html
    assert f'value="/cases/{referred_case.pk}/"' in html


def test_a_body_about_a_case_the_reader_cannot_see_is_not_shown(as_user, referred_case, users):
    # worker_bosai has no part in this case (as after a move to another department).
    notifications_queue(
        recipients=[users["worker_bosai"]],
        kind="referral_decline",
        title="辞退の知らせ",
        body="理由: 見えてはいけない理由",
        case_id=referred_case.pk,
    )

    html = as_user("worker_bosai").get("/notifications/").content.decode()

    assert "辞退の知らせ" in html
    assert "見えてはいけない理由" not in html
    assert "このケースを閲覧できないため、内容は表示しません。" in html
