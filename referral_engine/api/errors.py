"""One error shape for the API: {"error", "message", "fields"} (DESIGN §8.1)."""

from rest_framework.views import exception_handler as drf_exception_handler


def exception_handler(exc, context):
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    data = response.data
    fields = data if isinstance(data, dict) and "detail" not in data else {}
    detail = data.get("detail", "") if isinstance(data, dict) else ""
    code = getattr(detail, "code", None) or ("invalid" if fields else "error")
    response.data = {"error": code, "message": str(detail) or "Invalid input.", "fields": fields}
    return response
