from functools import partial

from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response

from referral_engine.pagination import SEARCH_COUNT_CAP, CappedCountPaginator


class ApiPagination(PageNumberPagination):
    """`?page=` (from 1) and `?page_size=` (default 50, at most 200). A page past the end is a 404.

    `count` is exact up to 1,000; past that the list is not counted (an exact count of hundreds of
    thousands of rows costs seconds): `count` is 1,000 (or the rows up to the requested page) and
    `count_capped` is true, meaning "more than `count`". `next` is right either way; `?page=last`
    is not offered, since the last page is not known. A search (`?q=`) is counted to 100 only."""

    page_size_query_param = "page_size"
    max_page_size = 200
    django_paginator_class = CappedCountPaginator
    last_page_strings = ()

    def paginate_queryset(self, queryset, request, view=None):
        cap = SEARCH_COUNT_CAP if request.query_params.get("q") else None
        self.django_paginator_class = partial(CappedCountPaginator, cap=cap)
        return super().paginate_queryset(queryset, request, view)

    def get_paginated_response(self, data):
        paginator = self.page.paginator
        return Response(
            {
                "count": paginator.count_shown,
                "count_capped": paginator.count_capped,
                "next": self.get_next_link(),
                "previous": self.get_previous_link(),
                "results": data,
            }
        )

    def get_paginated_response_schema(self, schema):
        response = super().get_paginated_response_schema(schema)
        response["properties"] = {
            "count": {"type": "integer", "example": 123},
            "count_capped": {
                "type": "boolean",
                "description": "True when the list was not counted to the end: there are more than `count`.",
            },
            **{k: v for k, v in response["properties"].items() if k != "count"},
        }
        response["required"] = ["count", "count_capped", "results"]
        return response
