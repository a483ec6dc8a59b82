"""The work endpoints (issue 18, DESIGN §11.3): follow-ups (予定) and `GET /api/v1/me/work/`.
Thin like `views.py`: parse, call one service or selector, render."""

from __future__ import annotations

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from referral_engine.access import policy
from referral_engine.api import work_serializers as ws
from referral_engine.api.parsing import query_data, validated_data
from referral_engine.api.schema import READ, WRITE, responses
from referral_engine.api.views import ApiListView, ApiView, _case, _require_staff_or_auditor
from referral_engine.cases import selectors
from referral_engine.cases.services.followups import followup_create, followup_done
from referral_engine.cases.work import my_work
from referral_engine.errors import Forbidden


class CaseFollowUpsView(ApiListView):
    @extend_schema(
        operation_id="case_followups_list",
        summary="The case's follow-ups (予定), open ones first",
        responses=responses({200: ws.FollowUpSerializer(many=True)}, *READ),
        tags=["follow-ups"],
    )
    def get(self, request: Request, id: int) -> Response:
        case = _case(request, id)
        return self.paginated(selectors.case_followups(case), ws.FollowUpSerializer)

    @extend_schema(
        operation_id="case_followups_create",
        summary="Set a follow-up on the case",
        request=ws.FollowUpCreateSerializer,
        responses=responses({201: ws.FollowUpSerializer}, 409, *WRITE),
        tags=["follow-ups"],
    )
    def post(self, request: Request, id: int) -> Response:
        data = validated_data(ws.FollowUpCreateSerializer, request.data)
        followup = followup_create(
            case_id=id, actor=request.user, due_on=data["due_on"], note=data["note"], assignee=data["assignee"]
        )
        return Response(ws.FollowUpSerializer(followup, context={"request": request}).data, status=201)


class FollowUpListView(ApiListView):
    @extend_schema(
        operation_id="followups_list",
        summary="Follow-ups of the cases I may see (`mine=true`: my open ones, by day)",
        parameters=[ws.FollowUpListQuerySerializer],
        responses=responses({200: ws.FollowUpSerializer(many=True)}, 400, 403, *READ),
        tags=["follow-ups"],
    )
    def get(self, request: Request) -> Response:
        _require_staff_or_auditor(request)
        filters = query_data(ws.FollowUpListQuerySerializer, request)
        if filters["mine"]:
            qs = selectors.followups_mine(request.user)
        else:
            qs = selectors.followups_visible_to(request.user)
        page = self.paginate_queryset(qs)
        ws.followup_list_context(request, page)
        return self.get_paginated_response(ws.FollowUpSerializer(page, many=True, context={"request": request}).data)


class FollowUpDoneView(ApiView):
    @extend_schema(
        operation_id="followup_done",
        summary="Mark a follow-up done, with what was done",
        request=ws.FollowUpDoneSerializer,
        responses=responses({200: ws.FollowUpSerializer}, 409, *WRITE),
        tags=["follow-ups"],
    )
    def post(self, request: Request, id: int) -> Response:
        data = validated_data(ws.FollowUpDoneSerializer, request.data)
        followup = followup_done(followup_id=id, actor=request.user, note=data["note"])
        return Response(ws.FollowUpSerializer(followup, context={"request": request}).data)


def _require_staff(request: Request) -> None:
    if not policy.can_view_inbox(request.user):
        raise Forbidden(_("このページを開く権限がありません。"))


class MyWorkView(ApiView):
    @extend_schema(
        operation_id="me_work_retrieve",
        summary="My work: assigned, led cases, inbox, follow-ups, setbacks, slips (staff)",
        responses=responses({200: ws.MyWorkSerializer}, 401, 403),
        tags=["me"],
    )
    def get(self, request: Request) -> Response:
        _require_staff(request)
        data = ws.my_work_payload(my_work(request.user))
        return Response(ws.MyWorkSerializer(data, context={"request": request}).data)
