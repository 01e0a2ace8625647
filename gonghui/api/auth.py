"""Bearer-token authentication for the API: `Authorization: Bearer <token>`."""

from __future__ import annotations

from django.http import HttpRequest
from ninja.security import HttpBearer

from gonghui.accounts.services import api_token_authenticate


class BearerToken(HttpBearer):
    """Resolves the token to its user; `request.auth` is then the viewer every selector takes."""

    def authenticate(self, request: HttpRequest, token: str):
        return api_token_authenticate(token)
