from referral_engine.access import policy


def navigation(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    p = policy.principal(user)
    return {
        "principal": p,
        "unread_count": user.notifications.filter(read_at__isnull=True).count(),
    }
