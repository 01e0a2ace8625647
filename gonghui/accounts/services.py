"""Writes for accounts: users, roles, API tokens, and the audit trail of sign-ins.

Every function here is atomic and writes an audit row (`gonghui.audit.services.audit_record`).
Passwords go through Django's configured hasher (Argon2); API tokens are stored only as their
SHA-256, and issuing one authenticates through `django.contrib.auth.authenticate` with a request,
so django-axes counts failures and its lockout applies to the API exactly as to the login form.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import authenticate, password_validation
from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone

from gonghui.audit.services import audit_record
from gonghui.orgs.models import Org

from .models import ApiToken, Role, RoleKind, User

# A token's last use is written at most this often, so a busy client does not write on every call.
TOKEN_TOUCH_INTERVAL = timedelta(minutes=1)
UNMASK_PERMISSION = ("people", "view_unmasked")


class AccountsError(ValueError):
    """An accounts write that cannot be done; the message says which field and why."""


class BadCredentials(AccountsError):
    """Unknown user, wrong password or inactive account: the three are not told apart."""


class AccountLocked(AccountsError):
    """django-axes has locked the account after too many failed sign-ins."""


def client_ip(request: HttpRequest | None) -> str | None:
    """The caller's address as django-axes resolved it (falling back to REMOTE_ADDR)."""
    if request is None:
        return None
    return getattr(request, "axes_ip_address", None) or request.META.get("REMOTE_ADDR") or None


def _check_role(role: str) -> None:
    if role not in RoleKind.values:
        raise AccountsError(f"角色 role={role!r} 无效，应为 {', '.join(RoleKind.values)} 之一")


def _unmask_permission() -> Permission:
    app_label, codename = UNMASK_PERMISSION
    return Permission.objects.get(content_type__app_label=app_label, codename=codename)


@transaction.atomic
def user_create(
    *,
    username: str,
    password: str,
    org: Org,
    role: str,
    actor: User | None = None,
    can_unmask: bool = False,
) -> User:
    """Create an active user holding `role` in `org`, password validated and hashed (Argon2).

    With `can_unmask` the user also gets `people.view_unmasked` (every use of which is audited
    where it is used). Raises `AccountsError` for a taken username, a bad role or a weak password;
    nothing is written then.
    """
    username = (username or "").strip()
    if not username:
        raise AccountsError("用户名 username 不能为空")
    _check_role(role)
    if User.objects.filter(username__iexact=username).exists():
        raise AccountsError(f"用户名 username={username!r} 已存在")
    user = User(username=username)
    try:
        password_validation.validate_password(password, user)
    except ValidationError as exc:
        raise AccountsError("密码 password 不符合要求：" + "；".join(exc.messages)) from exc
    user.set_password(password)
    user.save()
    Role.objects.create(user=user, org=org, role=role)
    if can_unmask:
        user.user_permissions.add(_unmask_permission())
    audit_record(
        actor=actor,
        action="accounts.user_create",
        target=user,
        detail={"org": org.code, "role": role, "can_unmask": can_unmask},
    )
    return user


@transaction.atomic
def role_grant(*, user: User, org: Org, role: str, actor: User | None = None) -> Role:
    """Give `user` the role `role` in `org` (one role per user and org: an existing one changes)."""
    _check_role(role)
    existing = Role.objects.select_for_update().filter(user=user, org=org).first()
    before = existing.role if existing else None
    if existing:
        existing.role = role
        existing.save(update_fields=["role"])
        granted = existing
    else:
        granted = Role.objects.create(user=user, org=org, role=role)
    audit_record(
        actor=actor,
        action="accounts.role_grant",
        target=user,
        detail={"org": org.code, "from": before, "to": role},
    )
    return granted


@transaction.atomic
def role_revoke(*, user: User, org: Org, actor: User | None = None) -> None:
    """Take away `user`'s role in `org`; raises `AccountsError` if there is none."""
    deleted = Role.objects.filter(user=user, org=org).values_list("role", flat=True).first()
    if deleted is None:
        raise AccountsError(f"用户 {user.username!r} 在组织 {org.code!r} 中没有角色")
    Role.objects.filter(user=user, org=org).delete()
    audit_record(
        actor=actor, action="accounts.role_revoke", target=user, detail={"org": org.code, "from": deleted}
    )


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _request_for(ip: str | None) -> HttpRequest:
    """A stand-in request for callers outside HTTP (the command line): axes needs one to count."""
    request = HttpRequest()
    request.method = "POST"
    request.path = request.path_info = "/cli/issue-token"
    if ip:
        request.META["REMOTE_ADDR"] = ip
    return request


def api_token_issue(
    *, username: str, password: str, ip: str | None = None, request: HttpRequest | None = None
) -> str:
    """Check the credentials and return a new bearer token, valid for GONGHUI_API_TOKEN_TTL_HOURS.

    The token is returned once and only its SHA-256 is stored. The check runs through
    `authenticate(request, ...)`: a failure counts towards the axes lockout and is audited as
    `accounts.login_failed`; a locked account raises `AccountLocked` even with the right password;
    other failures raise `BadCredentials`. Only the token write is atomic: the failure count must
    survive the refusal.
    """
    if request is None:
        request = _request_for(ip)
    user = authenticate(request, username=username, password=password)
    if user is None:
        if getattr(request, "axes_locked_out", False):
            raise AccountLocked("账户已被锁定 / account locked")
        raise BadCredentials("用户名或密码错误 / invalid username or password")
    if settings.AXES_RESET_ON_SUCCESS:
        # The login form resets the failure count on user_logged_in; a token issue is a sign-in too.
        from axes.utils import reset

        reset(username=user.get_username())
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        # The user's expired tokens can never authenticate again; drop them rather than let them pile up.
        ApiToken.objects.filter(user=user, expires_at__lte=timezone.now()).delete()
        issued = ApiToken.objects.create(
            user=user,
            key_hash=_token_hash(token),
            expires_at=timezone.now() + timedelta(hours=settings.GONGHUI_API_TOKEN_TTL_HOURS),
        )
        audit_record(
            actor=user,
            action="accounts.token_issue",
            target=user,
            detail={"token_id": issued.pk, "expires_at": issued.expires_at.isoformat()},
            ip=client_ip(request) or ip,
        )
    return token


def api_token_authenticate(token: str) -> User | None:
    """The active user a live token belongs to, or None (unknown, expired, or user inactive).

    Records the token's last use, at most once a minute (a conditional UPDATE, so concurrent
    calls write once).
    """
    if not token:
        return None
    now = timezone.now()
    found = (
        ApiToken.objects.select_related("user")
        .filter(key_hash=_token_hash(token), user__is_active=True)
        .only("id", "expires_at", "last_used_at", "user")
        .first()
    )
    if found is None or (found.expires_at is not None and found.expires_at <= now):
        return None
    if found.last_used_at is None or found.last_used_at <= now - TOKEN_TOUCH_INTERVAL:
        ApiToken.objects.filter(pk=found.pk).filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lte=now - TOKEN_TOUCH_INTERVAL)
        ).update(last_used_at=now)
    return found.user


@transaction.atomic
def api_token_revoke(*, token: str, actor: User | None = None) -> bool:
    """Delete the token so it no longer authenticates; True if it existed."""
    found = ApiToken.objects.filter(key_hash=_token_hash(token)).select_related("user").first()
    if found is None:
        return False
    audit_record(
        actor=actor or found.user,
        action="accounts.token_revoke",
        target=found.user,
        detail={"token_id": found.pk},
    )
    found.delete()
    return True


def login_record(*, user: User, request: HttpRequest | None) -> None:
    """Audit a sign-in to the web (from the `user_logged_in` signal)."""
    audit_record(actor=user, action="accounts.login", target=user, ip=client_ip(request))


def login_failed_record(*, username: str | None, request: HttpRequest | None) -> None:
    """Audit a failed sign-in with the username tried (never the password)."""
    audit_record(
        actor=None,
        action="accounts.login_failed",
        detail={
            "username": (username or "")[:150],
            "locked": bool(getattr(request, "axes_locked_out", False)),
            "path": getattr(request, "path", "") if request is not None else "",
        },
        ip=client_ip(request),
    )


def logout_record(*, user: User | None, request: HttpRequest | None) -> None:
    """Audit a sign-out; an anonymous logout (no user) leaves no row."""
    if user is None or not getattr(user, "is_authenticated", False):
        return
    audit_record(actor=user, action="accounts.logout", target=user, ip=client_ip(request))
