"""`gonghui accounts <verb>`: create users, grant and revoke roles, issue API tokens.

Passwords come from `--password`, else the environment variable GONGHUI_PASSWORD, else a prompt
(only on a terminal). The work is done by `gonghui.accounts.services`.
"""

from __future__ import annotations

import getpass
import os
import sys

from gonghui.accounts.models import RoleKind, User
from gonghui.accounts.services import api_token_issue, role_grant, role_revoke, user_create
from gonghui.lib.cli import AreaCommand, UsageError
from gonghui.orgs.models import Org

PASSWORD_ENV = "GONGHUI_PASSWORD"


def _username(parser):
    parser.add_argument("--username", required=True, help="the user's sign-in name")


def _password(parser):
    parser.add_argument("--password", help=f"the password (default: ${PASSWORD_ENV}, else a prompt)")


def _org_role(parser, *, role: bool = True):
    parser.add_argument("--org", required=True, metavar="CODE", help="the org's code, e.g. C230811")
    if role:
        parser.add_argument("--role", required=True, choices=RoleKind.values, help="the role in that org")


def _create_user_arguments(parser):
    _username(parser)
    _password(parser)
    _org_role(parser)
    parser.add_argument(
        "--can-unmask",
        action="store_true",
        help="may view full ID numbers and phones (every view is audited)",
    )


def _grant_arguments(parser):
    _username(parser)
    _org_role(parser)


def _revoke_arguments(parser):
    _username(parser)
    _org_role(parser, role=False)


def _issue_token_arguments(parser):
    _username(parser)
    _password(parser)


def _find_org(code: str) -> Org:
    org = Org.objects.filter(code=code).first()
    if org is None:
        raise UsageError(f"找不到组织 org={code!r}")
    return org


def _find_user(username: str) -> User:
    user = User.objects.filter(username=username).first()
    if user is None:
        raise UsageError(f"找不到用户 username={username!r}")
    return user


def _read_password(given: str | None, *, confirm: bool) -> str:
    if given:
        return given
    if os.environ.get(PASSWORD_ENV):
        return os.environ[PASSWORD_ENV]
    if not sys.stdin.isatty():
        raise UsageError(f"缺少密码：请用 --password 或环境变量 {PASSWORD_ENV}")
    password = getpass.getpass("Password: ")
    if confirm and getpass.getpass("Password (again): ") != password:
        raise UsageError("两次输入的密码不一致")
    return password


class Command(AreaCommand):
    help = "Accounts: create users, grant or revoke roles, issue API tokens."
    verbs = {
        "create-user": (
            "Create a user holding a role in an org (sees that org's subtree).",
            _create_user_arguments,
            "create_user",
        ),
        "grant-role": ("Give a user a role in an org (or change it).", _grant_arguments, "grant_role"),
        "revoke-role": ("Take away a user's role in an org.", _revoke_arguments, "revoke_role"),
        "issue-token": (
            "Check a user's password and print a new API bearer token.",
            _issue_token_arguments,
            "issue_token",
        ),
    }

    def create_user(self, *, username, password, org, role, can_unmask, **options):
        user = user_create(
            username=username,
            password=_read_password(password, confirm=True),
            org=_find_org(org),
            role=role,
            can_unmask=can_unmask,
        )
        self.stdout.write(f"created user {user.username} ({role} @ {org})")

    def grant_role(self, *, username, org, role, **options):
        role_grant(user=_find_user(username), org=_find_org(org), role=role)
        self.stdout.write(f"{username}: {role} @ {org}")

    def revoke_role(self, *, username, org, **options):
        role_revoke(user=_find_user(username), org=_find_org(org))
        self.stdout.write(f"{username}: no role @ {org}")

    def issue_token(self, *, username, password, **options):
        token = api_token_issue(username=username, password=_read_password(password, confirm=False))
        self.stdout.write(token)
