"""The language of a request: Simplified Chinese unless the user chose English with the switch.

Django's LocaleMiddleware would follow the browser's Accept-Language, so a cadre on an English-
language system would land on English pages. The platform speaks Chinese by default (DESIGN.md):
pages follow only the language cookie that the switch (`set_language`) sets. The JSON API keeps
Django's negotiation, since its clients say what they want in Accept-Language.
"""

from __future__ import annotations

from django.conf import settings
from django.middleware.locale import LocaleMiddleware
from django.utils import translation

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
