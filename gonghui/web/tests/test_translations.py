"""The Simplified Chinese catalogue is complete, compiled, and the UI speaks it by default."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import polib
import pytest
from django.conf import settings
from django.core.management import call_command
from django.urls import reverse

LOCALE_DIR = Path(settings.BASE_DIR) / "locale" / "zh_Hans" / "LC_MESSAGES"
PO_PATH = LOCALE_DIR / "django.po"
MO_PATH = LOCALE_DIR / "django.mo"
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|\{\w*(?::[^}]*)?\}|%[sd]")


def _catalogue() -> polib.POFile:
    return polib.pofile(str(PO_PATH))


def test_it_translates_every_entry_of_the_catalogue():
    po = _catalogue()
    assert len(po) > 100
    untranslated = [e.msgid for e in po.untranslated_entries()]
    fuzzy = [e.msgid for e in po.fuzzy_entries()]
    assert untranslated == []
    assert fuzzy == []
    assert not po.metadata_is_fuzzy  # a fuzzy header would lose the plural forms when compiled
    assert po.metadata["Plural-Forms"].startswith("nplurals=1;")


def test_it_keeps_the_placeholders_of_every_message():
    for entry in _catalogue():
        if entry.msgid_plural:
            wanted = sorted(PLACEHOLDER.findall(entry.msgid_plural))
            got = sorted(PLACEHOLDER.findall(entry.msgstr_plural[0]))
        else:
            wanted = sorted(PLACEHOLDER.findall(entry.msgid))
            got = sorted(PLACEHOLDER.findall(entry.msgstr))
        assert got == wanted, entry.msgid


def test_it_ships_a_compiled_catalogue_matching_the_source():
    mo = {(e.msgctxt, e.msgid): e for e in polib.mofile(str(MO_PATH))}
    for entry in _catalogue():
        compiled = mo.get((entry.msgctxt, entry.msgid))
        assert compiled is not None, f"{entry.msgid!r} missing from django.mo: run compilemessages"
        if entry.msgid_plural:
            assert compiled.msgstr_plural[0] == entry.msgstr_plural[0], entry.msgid
        else:
            assert compiled.msgstr == entry.msgstr, entry.msgid


def test_it_has_every_string_of_the_code_in_the_catalogue(tmp_path, settings, monkeypatch):
    """Extract the strings afresh (as makemessages does) from a copy of the package: none may be missing."""
    source = Path(settings.BASE_DIR)
    copy = tmp_path / "gonghui"
    shutil.copytree(
        source,
        copy,
        ignore=shutil.ignore_patterns("locale", "static", "__pycache__", "*.pyc", "*.mo", "*.po"),
    )
    fresh_locale = tmp_path / "locale"
    fresh_locale.mkdir()
    settings.LOCALE_PATHS = [fresh_locale]
    monkeypatch.chdir(copy)
    call_command("makemessages", locale=["zh_Hans"], verbosity=0)
    extracted = polib.pofile(str(fresh_locale / "zh_Hans" / "LC_MESSAGES" / "django.po"))
    known = {(e.msgctxt, e.msgid) for e in _catalogue()}
    missing = sorted(e.msgid for e in extracted if (e.msgctxt, e.msgid) not in known)
    assert missing == [], "run: cd gonghui && ../.venv/bin/gonghui makemessages -l zh_Hans --no-obsolete"


@pytest.mark.django_db
def test_it_renders_the_desk_in_chinese_by_default_and_english_after_switching(client, world):
    client.force_login(world.city_user, backend="django.contrib.auth.backends.ModelBackend")
    # Chinese even for a browser that prefers English: only the switch changes the language.
    desk = client.get(reverse("desk"), HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    text = desk.content.decode()
    assert '<html lang="zh-hans">' in text
    assert "<h1>工作台</h1>" in text
    assert "退出登录" in text
    assert "Staff desk" not in text

    switched = client.post(reverse("set_language"), {"language": "en", "next": reverse("desk")})
    assert switched.status_code == 302
    text = client.get(reverse("desk"), HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    assert '<html lang="en">' in text
    assert "<h1>Staff desk</h1>" in text
    assert "Log out" in text
    assert "工作台" not in text

    client.post(reverse("set_language"), {"language": "zh-hans", "next": reverse("desk")})
    assert "<h1>工作台</h1>" in client.get(reverse("desk")).content.decode()


@pytest.mark.django_db
def test_it_shows_the_login_page_in_chinese_to_anonymous_visitors(client):
    text = client.get(reverse("login")).content.decode()
    assert "<h1>登录</h1>" in text
    assert "用户名" in text and "密码" in text
