"""The JSON API under /api/v1/ (schema at /api/v1/openapi.json, docs at /api/v1/docs).

Handlers are thin: they take the viewer from the bearer token (`request.auth`), call a selector
or service, and shape the answer. Domain errors become JSON `{"detail": ...}` once, here, in the
exception handlers. Error details are bilingual literals rather than gettext: API clients are
programs that do not negotiate a language, and their operators may read either.
"""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI, Query
from ninja.errors import AuthenticationError, ValidationError
from ninja.openapi.docs import Swagger
from ninja.renderers import JSONRenderer

from gonghui.accounts.lockout import LOCKED_DETAIL
from gonghui.accounts.models import Role
from gonghui.accounts.services import AccountLocked, BadCredentials, api_token_issue
from gonghui.lib.idcard import InvalidIdNumber, normalize_id_number
from gonghui.lib.phone import InvalidPhone, normalize_mobile
from gonghui.orgs.selectors import access_org, org_list
from gonghui.people.selectors import access_person, person_list

from .auth import BearerToken
from .schemas import (
    ErrorOut,
    MeOut,
    OrgDetail,
    OrgPage,
    PersonDetail,
    PersonPage,
    PersonSearchIn,
    TokenIn,
    TokenOut,
)

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500

BAD_CREDENTIALS_DETAIL = "用户名或密码错误 / invalid username or password"
UNAUTHORIZED_DETAIL = "需要有效的访问令牌 / a valid bearer token is required"
NOT_FOUND_DETAIL = "未找到 / not found"
INVALID_INPUT_DETAIL = "请求参数无效 / invalid request"


class Utf8JSONRenderer(JSONRenderer):
    """Chinese names and messages as UTF-8 text rather than \\u escapes (charset is utf-8)."""

    json_dumps_params = {"ensure_ascii": False}


api = NinjaAPI(
    title="gonghui API",
    version="1",
    description="工会平台接口。POST /auth/token 取得令牌，之后以 `Authorization: Bearer <token>` 调用。",
    urls_namespace="api",
    auth=BearerToken(),
    renderer=Utf8JSONRenderer(),
    # Served from the bundled static files ("ninja" is in INSTALLED_APPS); no validator badge,
    # which Swagger UI would otherwise fetch from validator.swagger.io.
    docs=Swagger(settings={"validatorUrl": None}),
)


# ---- errors, mapped once ----------------------------------------------------------------------


def _error(request: HttpRequest, status: int, detail: str, **extra) -> HttpResponse:
    return api.create_response(request, {"detail": detail, **extra}, status=status)


@api.exception_handler(AuthenticationError)
def _unauthorized(request, exc):
    response = _error(request, 401, UNAUTHORIZED_DETAIL)
    response["WWW-Authenticate"] = "Bearer"
    return response


@api.exception_handler(BadCredentials)
def _bad_credentials(request, exc):
    return _error(request, 401, BAD_CREDENTIALS_DETAIL)


@api.exception_handler(AccountLocked)
def _locked(request, exc):
    return _error(request, 429, LOCKED_DETAIL)


@api.exception_handler(Http404)
def _not_found(request, exc):
    # The same answer for "does not exist" and "not yours to see".
    return _error(request, 404, NOT_FOUND_DETAIL)


@api.exception_handler(ValidationError)
def _invalid(request, exc):
    return _error(request, 422, INVALID_INPUT_DETAIL, errors=exc.errors)


@api.exception_handler(ValueError)
def _domain_error(request, exc):
    # Typed domain errors subclass ValueError and carry a message naming the field and the reason.
    return _error(request, 400, str(exc))


# ---- paging -----------------------------------------------------------------------------------


def _page(queryset: QuerySet, page: int, page_size: int) -> tuple[int, list]:
    """Two queries whatever the page: the count and the page's rows."""
    start = (page - 1) * page_size
    return queryset.count(), list(queryset[start : start + page_size])


# ---- auth -------------------------------------------------------------------------------------


@api.post(
    "/auth/token",
    auth=None,
    response={200: TokenOut, 401: ErrorOut, 429: ErrorOut},
    summary="Issue a bearer token",
    tags=["auth"],
)
def auth_token(request, body: TokenIn):
    """Exchange a username and password for a token (valid GONGHUI_API_TOKEN_TTL_HOURS).

    Failed attempts count towards the account lockout shared with the login page.
    """
    return {"token": api_token_issue(username=body.username, password=body.password, request=request)}


@api.get("/me", response=MeOut, tags=["auth"], summary="The signed-in user and their roles")
def me(request):
    viewer = request.auth
    roles = Role.objects.filter(user=viewer).select_related("org").order_by("org__path")
    return {
        "id": viewer.pk,
        "username": viewer.get_username(),
        "is_superuser": viewer.is_superuser,
        "can_unmask": viewer.has_perm("people.view_unmasked"),
        "roles": [
            {"org_id": r.org_id, "org_code": r.org.code, "org_name": r.org.name, "role": r.role}
            for r in roles
        ],
    }


# ---- people -----------------------------------------------------------------------------------

PERSON_ITEM_FIELDS = {
    "id": "id",
    "name": "name",
    "id_number_masked": "id_number_masked",
    "phone_masked": "phone_masked",
    "region_code": "work_region__code",
    "employer": "employer__name",
    "group": "group__code",
}


class ProtectedValueInUrl(ValueError):
    """An ID number or phone sent in a query string, where proxies and logs would keep it."""


def _is_id_number_or_phone(q: str) -> bool:
    for normalize, invalid in ((normalize_id_number, InvalidIdNumber), (normalize_mobile, InvalidPhone)):
        try:
            normalize(q)
            return True
        except invalid:
            continue
    return False


def _people_page(request, *, q: str, region_code: str, group: str, page: int, page_size: int) -> dict:
    found = person_list(viewer=request.auth, q=q, region_code=region_code, group_code=group)
    rows = found.values(*PERSON_ITEM_FIELDS.values())
    count, items = _page(rows, page, page_size)
    return {
        "count": count,
        "items": [{key: row[col] for key, col in PERSON_ITEM_FIELDS.items()} for row in items],
    }


@api.get("/people", response=PersonPage, tags=["people"], summary="People in the viewer's scope")
def people(
    request,
    page: int = Query(1, ge=1, description="1-based page number"),
    page_size: int = Query(DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE),
    q: str = Query("", max_length=100, description="Name (ID numbers and phones: POST /people/search)"),
    region_code: str = Query("", max_length=12, description="Division code (prefix of the work region)"),
    group: str = Query("", max_length=40, description="Occupation group code"),
):
    if q and _is_id_number_or_phone(q.strip()):
        raise ProtectedValueInUrl(
            "身份证号和手机号请放在 POST /api/v1/people/search 的请求体中查询，不要放在网址里 / "
            "send ID numbers and phones in the body of POST /api/v1/people/search, not in the URL"
        )
    return _people_page(request, q=q, region_code=region_code, group=group, page=page, page_size=page_size)


@api.post("/people/search", response=PersonPage, tags=["people"], summary="Search people (body)")
def people_search(request, search: PersonSearchIn):
    """The same list as GET /people, with the query in the body: the way to find someone by ID
    number or phone (matched through the keyed hash, never stored or logged in plaintext)."""
    return _people_page(
        request,
        q=search.q,
        region_code=search.region_code,
        group=search.group,
        page=search.page,
        page_size=search.page_size,
    )


@api.get(
    "/people/{person_id}",
    response={200: PersonDetail, 404: ErrorOut},
    tags=["people"],
    summary="One person (404 outside the viewer's scope)",
)
def person(request, person_id: int):
    p = access_person(request.auth, person_id)
    return {
        "id": p.pk,
        "name": p.name,
        "id_number_masked": p.id_number_masked,
        "phone_masked": p.phone_masked,
        "region_code": p.work_region.code if p.work_region_id else None,
        "employer": p.employer.name if p.employer_id else None,
        "group": p.group.code if p.group_id else None,
        "birth_date": p.birth_date,
        "sex": p.sex,
        "home_region_code": p.home_region.code if p.home_region_id else None,
    }


# ---- orgs -------------------------------------------------------------------------------------

ORG_ITEM_FIELDS = {
    "id": "id",
    "code": "code",
    "name": "name",
    "kind": "kind",
    "status": "status",
    "parent_id": "parent_id",
    "region_code": "region__code",
    "founded_on": "founded_on",
}


@api.get("/orgs", response=OrgPage, tags=["orgs"], summary="Union organisations in the viewer's subtree")
def orgs(
    request,
    page: int = Query(1, ge=1, description="1-based page number"),
    page_size: int = Query(DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE),
    kind: str = Query("", max_length=20, description="Org kind, e.g. federation, enterprise"),
    q: str = Query("", max_length=100, description="Name or code contains"),
):
    found = org_list(viewer=request.auth, kind=kind, q=q)
    count, items = _page(found.values(*ORG_ITEM_FIELDS.values()), page, page_size)
    return {
        "count": count,
        "items": [{key: row[col] for key, col in ORG_ITEM_FIELDS.items()} for row in items],
    }


@api.get(
    "/orgs/{org_id}",
    response={200: OrgDetail, 404: ErrorOut},
    tags=["orgs"],
    summary="One union organisation (404 outside the viewer's subtree)",
)
def org(request, org_id: int):
    o = access_org(request.auth, org_id)
    return {
        **{
            key: getattr(o, key)
            for key in ("id", "code", "name", "kind", "status", "parent_id", "founded_on")
        },
        "region_code": o.region.code if o.region_id else None,
        "covers_regions": [r.code for r in o.covers_regions.all()],
        "covers_groups": [g.code for g in o.covers_groups.all()],
        "covers_employers": [e.credit_code for e in o.covers_employers.all()],
    }


# ---- routers of other areas (each in its own module) --------------------------------------------

from .membership import router as membership_router  # noqa: E402

api.add_router("/members", membership_router)

from .competitions import router as competitions_router  # noqa: E402

api.add_router("/contests", competitions_router)
