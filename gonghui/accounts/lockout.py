"""What django-axes answers when an account is locked (settings.AXES_LOCKOUT_CALLABLE).

The API gets a JSON body like its other errors; the web gets the lockout page. Both answer 429.
"""

from __future__ import annotations

from axes.helpers import get_client_username, get_cool_off, get_cool_off_iso8601, get_failure_limit
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

API_PREFIX = "/api/"
LOCKED_DETAIL = (
    "账户因多次登录失败已被锁定，请稍后再试 / account locked after too many failed sign-ins; try again later"
)


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: dict | None = None
) -> HttpResponse:
    status = settings.AXES_HTTP_RESPONSE_CODE
    if request.path.startswith(API_PREFIX):
        return JsonResponse(
            {"detail": LOCKED_DETAIL}, status=status, json_dumps_params={"ensure_ascii": False}
        )
    context: dict = {
        "failure_limit": get_failure_limit(request, credentials),
        "username": get_client_username(request, credentials) or "",
    }
    cool_off = get_cool_off(request)
    if cool_off:
        context.update({"cooloff_time": get_cool_off_iso8601(cool_off), "cooloff_timedelta": cool_off})
    return render(request, settings.AXES_LOCKOUT_TEMPLATE, context, status=status)
