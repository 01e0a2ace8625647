"""The language of a request: Simplified Chinese unless the user chose English with the switch.

Django's LocaleMiddleware would follow the browser's Accept-Language, so a cadre on an English-
language system would land on English pages. The platform speaks Chinese by default (DESIGN.md):
pages follow only the language cookie that the switch (`set_language`) sets. The JSON API keeps
Django's negotiation, since its clients say what they want in Accept-Language.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.sessions.middleware import SessionMiddleware
from django.middleware.locale import LocaleMiddleware
from django.utils import timezone, translation

API_PREFIX = "/api/"


class ChineseFirstLocaleMiddleware(LocaleMiddleware):
    def process_request(self, request):
        if request.path.startswith(API_PREFIX):
            return super().process_request(request)
        chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME, "")
        supported = {code for code, _name in settings.LANGUAGES}
        language = chosen if chosen in supported else settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()


REFRESHED_KEY = "_refreshed"
REFRESH_EVERY = 60  # seconds


class IdleSessionMiddleware(SessionMiddleware):
    """Django's sessions, with the idle expiry pushed forward at most once a minute.

    A session ends after SESSION_COOKIE_AGE idle seconds: each save moves its expiry that far past
    the save. Django's SESSION_SAVE_EVERY_REQUEST would write the session row on every request
    (an UPDATE and a commit); a candidate's exam page autosaves every 30 s and 2,000 of them sit
    the preliminary at once, so here a request that reads the session but does not change it
    saves it only when the last save is REFRESH_EVERY seconds old or more (the time is kept in
    the session). An idle session may so end up to a minute early; a changed session is saved at
    once, as always.
    """

    def process_response(self, request, response):
        session = getattr(request, "session", None)
        if session is not None and session.accessed and not session.is_empty():
            now = int(timezone.now().timestamp())
            if session.modified or now - session.get(REFRESHED_KEY, 0) >= REFRESH_EVERY:
                session[REFRESHED_KEY] = now
        return super().process_response(request, response)
