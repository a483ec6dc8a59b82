"""The REST API (DESIGN §8.1). Views are thin: parse with a serializer, call one service or selector,
render. Every rule — who may see or do what, which transition is legal, what a limited viewer may
read — lives in the services, selectors and the policy, so the API and the UI answer the same.
Domain errors become HTTP statuses in `referral_engine.api.errors`.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, PolymorphicProxySerializer, extend_schema
from rest_framework import generics, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from referral_engine.access import policy
from referral_engine.accounts import tokens
from referral_engine.accounts.models import ApiToken
from referral_engine.api import auth
from referral_engine.api import dashboard_serializers as ds
from referral_engine.api import serializers as s
from referral_engine.api import upkeep_serializers as us
from referral_engine.api.pagination import ApiPagination
from referral_engine.api.parsing import query_data, validated_data
from referral_engine.api.representation import represent
from referral_engine.api.schema import READ, WRITE, responses
from referral_engine.audit.services import access_log_search
from referral_engine.cases import selectors
from referral_engine.cases.models import Case, Referral
from referral_engine.cases.services.case_state import CASE_TRANSITIONS, case_available_transitions, case_transition
from referral_engine.cases.services.intake import case_open
from referral_engine.cases.services.records import activity_add, consent_record, consent_withdraw, stage_record_update
from referral_engine.cases.services.referrals import (
    referral_assign,
    referral_available_transitions,
    referral_create,
    referral_transition,
)
from referral_engine.cases.services.slips import slip_submit
from referral_engine.errors import Forbidden, InvalidInput, NotFound
from referral_engine.prepared import PreparedStatementsMixin
from referral_engine.timers import selectors as timer_selectors
from referral_engine.timers import services as timer_services
from referral_engine.web.replica import replica_reads_api


class ApiView(APIView):
    """Every API view: token then session authentication, JSON only, writes throttled, errors in the
    one shape (all from REST_FRAMEWORK in settings)."""


class ApiListView(generics.GenericAPIView):
    """A list: paginated with `?page=` and `?page_size=`."""

    pagination_class = ApiPagination

    def paginated(self, items: Any, serializer_class: type, **context: Any) -> Response:
        page = self.paginate_queryset(items)
        ctx = {"request": self.request, **context}
        return self.get_paginated_response(serializer_class(page, many=True, context=ctx).data)


def _fresh_principal(request: Request) -> None:
    """A write may have changed the user's reach (grants): re-read it before rendering."""
    policy.forget(request.user)


def _require_staff_or_auditor(request: Request) -> None:
    """Lists of cases, referrals and escalations are for the desk's staff and auditors, as in the UI:
    a connector or the admin has no business there (403), rather than an empty list."""
    if not policy.can_list_cases(request.user):
        raise Forbidden(_("このページを開く権限がありません。"))


def _case(request: Request, case_id: int, *, log: bool = True) -> Case:
    return selectors.case_get_for_user(request.user, case_id, request=request, via="api", log=log)


def _case_response(request: Request, case: Case, status_code: int = status.HTTP_200_OK) -> Response:
    return Response(represent(s.CaseSerializer, case, {"request": request}), status=status_code)


# --- Auth -----------------------------------------------------------------------------------------


class TokenObtainView(ApiView):
    """Exchange a username and password for an API token (`Authorization: Token <token>`)."""

    authentication_classes: list[type] = []
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="auth_token_create",
        summary="Obtain an API token",
        request=s.TokenRequestSerializer,
        responses=responses({200: s.TokenSerializer}, 400, 413, 415, 429),
        auth=[],
        tags=["auth"],
    )
    def post(self, request: Request) -> Response:
        data = validated_data(s.TokenRequestSerializer, request.data)
        token, key = auth.token_obtain(
            request=request, username=data["username"], password=data["password"], otp_token=data.get("otp_token")
        )
        return _token_response(token, key)


def _token_response(token: ApiToken, key: str) -> Response:
    return Response(s.TokenSerializer({"token": key, "expires_at": token.expires_at}).data)


def _presented_token(request: Request) -> ApiToken:
    if not isinstance(request.auth, ApiToken):
        message = _("トークン（Authorization: Token …）で認証したときだけ使えます。")
        raise InvalidInput(message, fields={"non_field_errors": [message]})
    return request.auth


class TokenRefreshView(ApiView):
    """Exchange a live token for a new one with a fresh expiry; the presented token ends."""

    @extend_schema(
        operation_id="auth_token_refresh",
        summary="Refresh my API token",
        description="Token authentication only. The presented token is revoked; use the new one.",
        request=None,
        responses=responses({200: s.TokenSerializer}, 400, 401, 409, 413, 415, 429),
        tags=["auth"],
    )
    def post(self, request: Request) -> Response:
        token, key = tokens.api_token_refresh(token=_presented_token(request))
        return _token_response(token, key)


class LogoutView(ApiView):
    """End the presented token (the API's logout)."""

    @extend_schema(
        operation_id="auth_logout",
        summary="Log out: revoke the presented token",
        request=None,
        responses=responses({204: None}, 400, 401, 413, 415, 429),
        tags=["auth"],
    )
    def post(self, request: Request) -> Response:
        tokens.api_token_logout(token=_presented_token(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Persons: referral_engine/api/persons.py ------------------------------------------------------


# --- Cases ----------------------------------------------------------------------------------------


class CaseListView(PreparedStatementsMixin, ApiListView):
    prepared_methods = frozenset({"POST"})  # the intake; never the list or the search (GET)

    @extend_schema(
        operation_id="cases_list",
        summary="Cases I may see",
        description="Filters are logged as a search in the access log.",
        parameters=[s.CaseListQuerySerializer],
        responses=responses({200: s.CaseSummarySerializer(many=True)}, 400, 403, *READ),
        tags=["cases"],
    )
    def get(self, request: Request) -> Response:
        _require_staff_or_auditor(request)
        filters = query_data(s.CaseListQuerySerializer, request)
        access_log_search(user=request.user, terms=filters, object_type="case", request=request, via="api")
        qs = selectors.cases_filter(
            selectors.cases_visible_to(request.user),
            state=filters.get("state"),
            department=filters.get("department") or None,
            risk=filters.get("risk"),
            stalled=filters.get("stalled"),
            q=filters.get("q") or None,
            lead_worker=request.user if filters.get("lead") == "me" else None,
            assigned_to=request.user if filters.get("assigned") == "me" else None,
        )
        return self.paginated(qs, s.CaseSummarySerializer)

    @extend_schema(
        operation_id="cases_create",
        summary="Open a case (intake at my window)",
        description=(
            "`person_id` for a known person, or `person` for a new one. Possible duplicates answer 409 "
            "with `candidates` unless `confirm_new_person` is true. With an `Idempotency-Key` header the "
            "same key and body return the first case (201, then 200); a different body is a 409."
        ),
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                description="Up to 100 characters, unique per intake you mean (per user).",
            )
        ],
        request=s.CaseOpenSerializer,
        responses=responses(
            {
                201: OpenApiResponse(s.CaseSerializer, description="Opened."),
                200: OpenApiResponse(s.CaseSerializer, description="The case this Idempotency-Key opened before."),
            },
            409,
            *WRITE,
        ),
        tags=["cases"],
    )
    def post(self, request: Request) -> Response:
        data = validated_data(s.CaseOpenSerializer, request.data)
        case = case_open(
            actor=request.user,
            idempotency_key=request.headers.get("Idempotency-Key") or None,
            **s.CaseOpenSerializer.service_kwargs(data),
        )
        # No _fresh_principal: an intake changes no membership, and its grants are on the new case
        # only, which `case_open` told the policy about (`policy.case_perms_granted`) as it wrote them.
        return _case_response(request, case, status.HTTP_200_OK if case.replayed else status.HTTP_201_CREATED)


class CaseDetailView(ApiView):
    @extend_schema(
        operation_id="cases_retrieve",
        summary="One case (logged as a view)",
        responses=responses({200: s.CaseSerializer}, *READ),
        tags=["cases"],
    )
    def get(self, request: Request, id: int) -> Response:
        return _case_response(request, _case(request, id))


class CaseTransitionListView(ApiView):
    @extend_schema(
        operation_id="case_transitions_list",
        summary="Case transitions I may run now",
        responses=responses({200: s.TransitionsSerializer}, *READ),
        tags=["cases"],
    )
    def get(self, request: Request, id: int) -> Response:
        case = _case(request, id, log=False)
        names = case_available_transitions(case, request.user)
        return Response({"state": case.state, "transitions": names})


CASE_TRANSITION_NAME = OpenApiParameter(
    "name",
    OpenApiTypes.STR,
    OpenApiParameter.PATH,
    enum=list(CASE_TRANSITIONS),
    description="start_assessment, start_support, start_monitoring, hold (reason), resume, close "
    "(closure_reason), reopen",
)
REFERRAL_TRANSITION_NAME = OpenApiParameter(
    "name",
    OpenApiTypes.STR,
    OpenApiParameter.PATH,
    description="accept, decline (reason), return (reason), cancel, complete, or a stage transition of the "
    "receiving department's workflow (GET …/transitions/ lists what you may run now).",
)


class CaseTransitionView(PreparedStatementsMixin, ApiView):
    prepared_methods = frozenset({"POST"})

    @extend_schema(
        operation_id="case_transition_run",
        summary="Run a case transition",
        description="An illegal transition is a 409 whose `allowed` lists what you may run now.",
        parameters=[CASE_TRANSITION_NAME],
        request=s.CaseTransitionSerializer,
        responses=responses({200: s.CaseSerializer}, 409, *WRITE),
        tags=["cases"],
    )
    def post(self, request: Request, id: int, name: str) -> Response:
        data = validated_data(s.CaseTransitionSerializer, request.data)
        case = case_transition(
            case_id=id,
            name=name,
            actor=request.user,
            reason=data["reason"],
            closure_reason=data["closure_reason"],
            review_on=data["review_on"],
        )
        # No _fresh_principal: a case transition writes no grants, so what the policy read while
        # checking it (memberships, this case's permissions) is still the user's reach.
        return _case_response(request, case)


class CaseReferralsView(ApiListView):
    @extend_schema(
        operation_id="case_referrals_list",
        summary="The case's referrals",
        responses=responses({200: s.ReferralSerializer(many=True)}, *READ),
        tags=["referrals"],
    )
    def get(self, request: Request, id: int) -> Response:
        case = _case(request, id)
        return self.paginated(selectors.case_referrals(case).select_related("case"), s.ReferralSerializer)

    @extend_schema(
        operation_id="case_referrals_create",
        summary="Refer the case to a department",
        description="The legal basis must fit the disclosure (DESIGN §4), or nothing is saved (400).",
        request=s.ReferralCreateSerializer,
        responses=responses({201: s.ReferralDetailSerializer}, 409, *WRITE),
        tags=["referrals"],
    )
    def post(self, request: Request, id: int) -> Response:
        data = validated_data(s.ReferralCreateSerializer, request.data)
        referral = referral_create(
            case_id=id,
            actor=request.user,
            to_department=data["to_department"],
            basis=data["basis"],
            reason=data["reason"],
            justification=data["justification"],
            urgent=data["urgent"],
            consent_id=data.get("consent_id"),
            previous_id=data.get("previous_id"),
            from_department_code=data["from_department"] or None,
        )
        _fresh_principal(request)
        body = s.ReferralDetailSerializer(referral, context={"request": request}).data
        return Response(body, status=status.HTTP_201_CREATED)


class CaseActivitiesView(ApiListView):
    @extend_schema(
        operation_id="case_activities_list",
        summary="The case's support records",
        description="Sensitive records come back with an empty body and `masked: true` unless you see the whole case.",
        responses=responses({200: s.ActivitySerializer(many=True)}, *READ),
        tags=["cases"],
    )
    def get(self, request: Request, id: int) -> Response:
        case = _case(request, id)
        return self.paginated(selectors.case_activities_for(request.user, case), s.ActivitySerializer)

    @extend_schema(
        operation_id="case_activities_create",
        summary="Add a support record",
        request=s.ActivityCreateSerializer,
        responses=responses({201: s.ActivitySerializer}, *WRITE),
        tags=["cases"],
    )
    def post(self, request: Request, id: int) -> Response:
        data = validated_data(s.ActivityCreateSerializer, request.data)
        activity = activity_add(
            case_id=id,
            actor=request.user,
            kind=data["kind"],
            body=data["body"],
            sensitive=data["sensitive"],
            occurred_at=data.get("occurred_at"),
        )
        return Response(s.ActivitySerializer(activity, context={"request": request}).data, status=201)


class CaseConsentsView(ApiListView):
    @extend_schema(
        operation_id="case_consents_list",
        summary="Consents of the case's person",
        responses=responses({200: s.ConsentSerializer(many=True)}, *READ),
        tags=["consents"],
    )
    def get(self, request: Request, id: int) -> Response:
        case = _case(request, id)
        return self.paginated(selectors.case_consents(case), s.ConsentSerializer)

    @extend_schema(
        operation_id="case_consents_create",
        summary="Record a consent",
        request=s.ConsentInputSerializer,
        responses=responses({201: s.ConsentSerializer}, *WRITE),
        tags=["consents"],
    )
    def post(self, request: Request, id: int) -> Response:
        data = validated_data(s.ConsentInputSerializer, request.data)
        consent = consent_record(
            case_id=id,
            actor=request.user,
            recipients=list(data["recipients"]),
            purposes=data["purposes"],
            method=data["method"],
            obtained_at=data.get("obtained_at"),
            note=data["note"],
        )
        return Response(s.ConsentSerializer(consent, context={"request": request}).data, status=201)


class ConsentWithdrawView(ApiView):
    @extend_schema(
        operation_id="consent_withdraw",
        summary="Withdraw a consent",
        description="Stops new disclosures that rely on it; existing ones stay on record. Twice is a 409.",
        request=s.ConsentWithdrawSerializer,
        responses=responses({200: s.ConsentSerializer}, 409, *WRITE),
        tags=["consents"],
    )
    def post(self, request: Request, id: int) -> Response:
        data = validated_data(s.ConsentWithdrawSerializer, request.data)
        consent = consent_withdraw(consent_id=id, actor=request.user, note=data["note"])
        return Response(s.ConsentSerializer(consent, context={"request": request}).data)


# --- Referrals ------------------------------------------------------------------------------------


class ReferralListView(ApiListView):
    @extend_schema(
        operation_id="referrals_list",
        summary="Referrals I may see (`inbox=true`: waiting for my departments)",
        parameters=[s.ReferralListQuerySerializer],
        responses=responses({200: s.ReferralSerializer(many=True)}, 400, 403, *READ),
        tags=["referrals"],
    )
    def get(self, request: Request) -> Response:
        _require_staff_or_auditor(request)
        filters = query_data(s.ReferralListQuerySerializer, request)
        access_log_search(user=request.user, terms=filters, object_type="referral", request=request, via="api")
        if filters["inbox"]:
            qs: QuerySet[Referral] = selectors.referrals_inbox(request.user)
        else:
            qs = selectors.referrals_visible_to(request.user)
        if filters.get("assigned") == "me":
            qs = selectors.referrals_assigned_to(request.user, qs)
        return self.paginated(qs, s.ReferralSerializer)


class ReferralDetailView(ApiView):
    @extend_schema(
        operation_id="referrals_retrieve",
        summary="One referral",
        description="`record` (the department's structured record) is null unless you see the whole case.",
        responses=responses({200: s.ReferralDetailSerializer}, *READ),
        tags=["referrals"],
    )
    def get(self, request: Request, id: int) -> Response:
        referral = selectors.referral_get_for_user(request.user, id)
        return Response(s.ReferralDetailSerializer(referral, context={"request": request}).data)


class ReferralTransitionListView(ApiView):
    @extend_schema(
        operation_id="referral_transitions_list",
        summary="Referral transitions I may run now (handoff, then stage transitions)",
        responses=responses({200: s.ReferralTransitionsSerializer}, *READ),
        tags=["referrals"],
    )
    def get(self, request: Request, id: int) -> Response:
        referral = selectors.referral_get_for_user(request.user, id)
        names = referral_available_transitions(referral, request.user)
        return Response({"state": referral.state, "stage": referral.stage, "transitions": names})


class ReferralTransitionView(ApiView):
    @extend_schema(
        operation_id="referral_transition_run",
        summary="Run a referral transition (accept, decline, return, cancel, complete, or a stage)",
        description="An illegal transition is a 409 whose `allowed` lists what you may run now.",
        parameters=[REFERRAL_TRANSITION_NAME],
        request=s.ReferralTransitionSerializer,
        responses=responses({200: s.ReferralDetailSerializer}, 409, *WRITE),
        tags=["referrals"],
    )
    def post(self, request: Request, id: int, name: str) -> Response:
        data = validated_data(s.ReferralTransitionSerializer, request.data)
        referral = referral_transition(
            referral_id=id, name=name, actor=request.user, reason=data["reason"], assign_to=data["assign_to"] or None
        )
        _fresh_principal(request)
        return Response(s.ReferralDetailSerializer(referral, context={"request": request}).data)


class ReferralAssignView(ApiView):
    @extend_schema(
        operation_id="referral_assign",
        summary="Name the worker who takes the referral on",
        description=(
            "A supervisor of the receiving department names any of its caseworkers or supervisors (or null); "
            "a caseworker of it takes an unassigned referral for themselves."
        ),
        request=s.ReferralAssignSerializer,
        responses=responses({200: s.ReferralDetailSerializer}, *WRITE),
        tags=["referrals"],
    )
    def post(self, request: Request, id: int) -> Response:
        data = validated_data(s.ReferralAssignSerializer, request.data)
        referral = referral_assign(referral_id=id, actor=request.user, worker_username=data["worker"])
        _fresh_principal(request)
        referral = selectors.referral_get_for_user(request.user, referral.pk)
        return Response(s.ReferralDetailSerializer(referral, context={"request": request}).data)


class ReferralRecordView(ApiView):
    def _update(self, request: Request, id: int) -> Response:
        from referral_engine.workflow import registry as workflow_registry

        referral = selectors.referral_get_for_user(request.user, id)
        workflow = workflow_registry.get(referral.to_department.code)
        form = workflow.record_form if workflow else None
        data = validated_data(s.StageRecordInputSerializer, request.data, record_form=form)
        record = stage_record_update(referral_id=referral.pk, actor=request.user, data=data)
        return Response(s.StageRecordSerializer(record).data)

    record_schema = {
        "request": OpenApiTypes.OBJECT,
        "responses": responses({200: s.StageRecordSerializer}, *WRITE),
        "tags": ["referrals"],
        "description": "The body is the record itself: an object whose keys are fields of the receiving "
        "department's record form. Given fields are merged into what is stored (PUT and PATCH alike).",
    }

    @extend_schema(operation_id="referral_record_update", summary="Update the department's record", **record_schema)
    def put(self, request: Request, id: int) -> Response:
        return self._update(request, id)

    @extend_schema(
        operation_id="referral_record_partial_update", summary="Update the department's record", **record_schema
    )
    def patch(self, request: Request, id: int) -> Response:
        return self._update(request, id)


# --- Community slips ------------------------------------------------------------------------------


class SlipListView(ApiListView):
    @extend_schema(
        operation_id="community_slips_list",
        summary="My community slips (connectors: id, sent, status — nothing else); the desk's queue",
        description="`?queue=true`: the social_welfare desk's slips not yet triaged, each with duplicate "
        "`candidates` (issue 17). Without it: a connector's own slips.",
        parameters=[us.SlipListQuerySerializer],
        responses=responses(
            {
                200: PolymorphicProxySerializer(
                    component_name="SlipOrQueueItem",
                    serializers=[s.SlipSerializer, us.SlipQueueItemSerializer],
                    resource_type_field_name=None,
                    many=True,
                )
            },
            400,
            403,
            *READ,
        ),
        tags=["community-slips"],
    )
    def get(self, request: Request) -> Response:
        if query_data(us.SlipListQuerySerializer, request)["queue"]:
            if not policy.can_triage_slips(request.user):
                raise Forbidden(_("つなぎ票の確認は社会福祉課の職員が行います。"))
            queue = selectors.slips_queue(request.user, request=request, via="api")
            return self.paginated(queue, us.SlipQueueItemSerializer)
        if not policy.can_submit_slip(request.user):
            raise Forbidden(_("つなぎ票はつなぎ役だけが見られます。"))
        return self.paginated(selectors.slips_of(request.user), s.SlipSerializer)

    @extend_schema(
        operation_id="community_slips_create",
        summary="Send a community slip (connectors)",
        request=s.SlipCreateSerializer,
        responses=responses({201: s.SlipSerializer}, *WRITE),
        tags=["community-slips"],
    )
    def post(self, request: Request) -> Response:
        data = validated_data(s.SlipCreateSerializer, request.data)
        slip = slip_submit(actor=request.user, **s.SlipCreateSerializer.service_kwargs(data))
        return Response(s.SlipSerializer(slip, context={"request": request}).data, status=201)


# --- Escalations and the dashboard ----------------------------------------------------------------


class EscalationListView(ApiListView):
    @extend_schema(
        operation_id="escalations_list",
        summary="Escalations I may see",
        responses=responses({200: ds.EscalationSerializer(many=True)}, 403, *READ),
        tags=["escalations"],
    )
    def get(self, request: Request) -> Response:
        _require_staff_or_auditor(request)
        return self.paginated(timer_selectors.escalations_visible_to(request.user), ds.EscalationSerializer)


class EscalationAcknowledgeView(ApiView):
    @extend_schema(
        operation_id="escalation_acknowledge",
        summary="Acknowledge an escalation (supervisors)",
        request=ds.EscalationAcknowledgeSerializer,
        responses=responses({200: ds.EscalationSerializer}, 409, *WRITE),
        tags=["escalations"],
    )
    def post(self, request: Request, id: int) -> Response:
        data = validated_data(ds.EscalationAcknowledgeSerializer, request.data)
        escalation = timer_services.escalation_acknowledge(escalation_id=id, actor=request.user, note=data["note"])
        return Response(ds.EscalationSerializer(escalation, context={"request": request}).data)


class DashboardView(ApiView):
    @extend_schema(
        operation_id="dashboard_retrieve",
        summary="The supervisor dashboard (supervisors and auditors)",
        responses=responses({200: ds.DashboardSerializer}, 401, 403),
        tags=["escalations"],
    )
    @replica_reads_api
    def get(self, request: Request) -> Response:
        if not policy.can_view_dashboard(request.user):
            raise Forbidden(_("ダッシュボードは係長・班長と監査担当だけが見られます。"))
        data = timer_selectors.dashboard_data(user=request.user)
        return Response(ds.DashboardSerializer(data, context={"request": request}).data)


# --- Anything else under /api/ --------------------------------------------------------------------


class ApiRootView(ApiView):
    """`GET /api/v1/`: where the API is described (no login needed to be told where the docs are)."""

    authentication_classes: list[type] = []
    permission_classes = [AllowAny]
    throttle_classes: list[type] = []
    schema = None

    def get(self, request: Request) -> Response:
        return Response(
            {
                "name": "Tsukumi referral engine API",
                "version": "v1",
                "docs": "/api/docs/",
                "schema": "/api/schema/",
                "message": _("APIの説明は /api/docs/ にあります。"),
            }
        )


class NotFoundView(ApiView):
    """Unknown API paths answer 404 in the error shape (not Django's HTML page), whoever asks."""

    authentication_classes: list[type] = []
    permission_classes = [AllowAny]
    throttle_classes: list[type] = []
    schema = None

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        raise NotFound(_("見つかりません。"))
