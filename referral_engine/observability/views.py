"""GET /metrics (no login; a bearer token or an allowed address instead): docs/operations.md."""

from django.http import HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from referral_engine.observability import metrics


@never_cache
@require_GET
def metrics_view(request):
    if not metrics.access_allowed(request):
        return JsonResponse(
            {"error": "forbidden", "message": _("メトリクスを読む権限がありません。"), "fields": {}},
            status=403,
            json_dumps_params={"ensure_ascii": False},
        )
    # The classic text format (0.0.4): every Prometheus server version reads it.
    return HttpResponse(metrics.metrics_text(), content_type=CONTENT_TYPE_PLAIN_0_0_4)
