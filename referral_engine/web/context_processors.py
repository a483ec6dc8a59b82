"""What every page's header needs: who the user is, which pages they may open, unread count."""

from referral_engine.access import policy
from referral_engine.notifications.selectors import notifications_unread_count


def navigation(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    p = policy.principal(user)
    return {
        "principal": p,
        "nav": {
            "open_case": policy.can_open_case(user),
            "cases": policy.can_list_cases(user),
            "inbox": policy.can_view_inbox(user),
            "dashboard": policy.can_view_dashboard(user),
            "reports": policy.can_view_reports(user),
            "audit": policy.can_audit(user),
            "slips": policy.can_submit_slip(user),
            "disaster": policy.can_see_disaster_menu(user),
            "evacuation_plans": policy.can_view_evacuation_plans(user),
            "slip_queue": policy.can_triage_slips(user),
            "admin": user.is_staff and policy.can_manage_master_data(user),
            "api_docs": policy.can_read_api_docs(user),
        },
        "unread_count": notifications_unread_count(user),
    }
