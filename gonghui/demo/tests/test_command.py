"""`gonghui demo seed` and `gonghui demo logins` on the command line: exit codes, skip, refusal."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.core.management import CommandError, call_command
from django.utils import translation

from gonghui.conftest import TEST_DATA_KEY
from gonghui.demo.services import DEMO_ADDRESS, DEMO_LOGINS, DEMO_PASSWORD
from gonghui.orgs.models import Org
from gonghui.people.models import Person


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _english():
    """The command speaks the site's language (Chinese by default); these tests read the English."""
    with translation.override("en"):
        yield


def counts() -> tuple[int, int]:
    return Person.objects.count(), Org.objects.count()


def test_it_seeds_then_skips_with_if_empty_then_refuses_without_it(db, capsys):
    call_command("demo", "seed", "--people", "40")
    out = capsys.readouterr().out
    assert "people 40/40" in out and "Seeded the demo city" in out
    seeded = counts()
    assert seeded[0] == 40

    call_command("demo", "seed", "--people", "40", "--if-empty")
    assert "skipped" in capsys.readouterr().out
    assert counts() == seeded

    with pytest.raises(CommandError) as caught:
        call_command("demo", "seed", "--people", "40")
    assert caught.value.returncode == 2
    message = str(caught.value)
    assert "\n" not in message and "拒绝重复生成演示城市" in message and "refusing" in message
    assert counts() == seeded


def test_it_refuses_a_negative_count_and_writes_nothing(db):
    with pytest.raises(CommandError) as caught:
        call_command("demo", "seed", "--people", "-5")
    assert caught.value.returncode == 2
    assert counts() == (0, 0)


def test_it_lists_the_demo_logins_with_address_password_and_orgs(db, capsys):
    call_command("demo", "seed", "--people", "5")
    capsys.readouterr()
    call_command("demo", "logins")
    out = capsys.readouterr().out
    assert DEMO_ADDRESS in out and DEMO_PASSWORD in out
    for login in DEMO_LOGINS:
        assert login.username in out
    assert "佳木斯市总工会" in out and "郊区总工会" in out and "前进区总工会" in out
    assert "Not seeded yet" not in out


def test_it_says_when_the_logins_are_not_seeded_yet(db, capsys):
    call_command("demo", "logins")
    assert "Not seeded yet" in capsys.readouterr().out


def test_it_exits_0_and_2_as_a_real_process(tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}",
        "GONGHUI_VAR_DIR": str(tmp_path),
        "GONGHUI_DATA_KEY": TEST_DATA_KEY,
        "GONGHUI_SECRET_KEY": "test-only-secret",
    }

    def gonghui(*args):
        return subprocess.run(
            [sys.executable, "-m", "gonghui", *args], env=env, capture_output=True, text=True, timeout=300
        )

    assert gonghui("migrate", "-v", "0").returncode == 0
    first = gonghui("demo", "seed", "--people", "30")
    assert first.returncode == 0, first.stderr
    again = gonghui("demo", "seed", "--people", "30", "--if-empty")
    assert again.returncode == 0 and "30/30" not in again.stdout  # no seeding happened
    refused = gonghui("demo", "seed", "--people", "30")
    assert refused.returncode == 2
    assert len(refused.stderr.strip().splitlines()) == 1 and "refusing" in refused.stderr
    help_text = gonghui("demo", "seed", "--help")
    assert help_text.returncode == 0 and "--if-empty" in help_text.stdout
