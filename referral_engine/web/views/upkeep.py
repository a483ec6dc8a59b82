"""The case page's forms of keeping persons and cases right (issue 17): reassessment, households,
merging two records of one person; and the desk's queue of community slips (`/slips/queue/`).
Each POST calls one service; field errors re-render the page with what was typed kept."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from referral_engine.cases.services.reassessment import case_reassess
from referral_engine.errors import InvalidInput
from referral_engine.web.errors import domain_errors
from referral_engine.web.upkeep_forms import ReassessForm
from referral_engine.web.views.cases import _case_url, _rerender


@require_POST
@domain_errors
def case_reassess_post(request, case_id: int):
    form = ReassessForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            case_reassess(
                case_id=case_id,
                actor=request.user,
                risk=data["risk"],
                needs=list(data["needs"]),
                summary=data["summary"],
                reason=data["reason"],
            )
        except InvalidInput as exc:
            form.add_domain_errors(exc)
        else:
            messages.success(request, _("再アセスメントを記録しました。"))
            return redirect(_case_url(case_id) + "#summary")
    return _rerender(request, case_id, bound={"reassess": form})
