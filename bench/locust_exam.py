"""Locust users for bench/exam_load.py: candidates who sign in, start their paper and autosave.

Run through bench/exam_load.py (which builds the database, starts the server and reads the results);
by hand: `EXAM_CANDIDATES=var/bench/exam_load_candidates.csv locust -f bench/locust_exam.py ...`.

Each simulated candidate does what the exam page does in a phone's browser:

1. GET the sign-in page (the CSRF cookie), POST the admission ticket and ID number;
2. GET the candidate home page, POST "start" and GET the paper (100 questions);
3. every 30 s (±3 s) POST the whole form as htmx does on a change (every position, the answers
   chosen so far: one or two more each time), and every other time GET state.json as the page's
   clock does each minute;
4. after EXAM_MINUTES of saving, hand in and GET the result page, then stop.

A response other than the one the real page expects is a failure (a save that is refused counts).
Candidates are taken in order from the CSV (ticket, ID number), one per simulated user.
"""

from __future__ import annotations

import csv
import itertools
import os
import random
import re
import threading
import time
from urllib.parse import urlencode

from locust import FastHttpUser, events, task
from locust.exception import StopUser

CANDIDATES_FILE = os.environ.get("EXAM_CANDIDATES", "var/bench/exam_load_candidates.csv")
MINUTES = float(os.environ.get("EXAM_MINUTES", "10"))
SAVE_EVERY = 30.0
JITTER = 3.0

_CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
_START = re.compile(r'action="(/contests/exam/(\d+)/start/)"')
_QUESTION = re.compile(r'name="q(\d+)" value="([A-FTF])"')

FORM = {"Content-Type": "application/x-www-form-urlencoded"}

_lock = threading.Lock()
_candidates: list[tuple[str, str]] = []
_next = itertools.count()


@events.init.add_listener
def _load_candidates(environment, **_kwargs):
    with open(CANDIDATES_FILE, newline="") as handle:
        _candidates.extend((row[0], row[1]) for row in csv.reader(handle))


def _take() -> tuple[str, str]:
    with _lock:
        return _candidates[next(_next) % len(_candidates)]


class Candidate(FastHttpUser):
    # The next wait is decided by the task itself (a save every 30 s, jittered).
    def wait_time(self):
        return self._wait

    def on_start(self):
        self._wait = 0.0
        ticket, id_number = _take()
        page = self.client.get("/contests/exam/", name="1 sign-in page")
        token = _CSRF.search(page.text or "")
        with self.client.post(
            "/contests/exam/",
            data={
                "csrfmiddlewaretoken": token.group(1) if token else "",
                "ticket": ticket,
                "id_number": id_number,
            },  # fmt: skip
            name="2 sign in",
            allow_redirects=False,
            catch_response=True,
        ) as response:
            if response.status_code != 302:
                response.failure(f"sign-in answered {response.status_code}")
                raise StopUser()
        home = self.client.get("/contests/exam/home/", name="3 home")
        found, token = _START.search(home.text or ""), _CSRF.search(home.text or "")
        if not (found and token):  # the failed request is already counted
            raise StopUser()
        self.base = f"/contests/exam/{found.group(2)}/"
        self.csrf = token.group(1)
        with self.client.post(
            found.group(1),
            data={"csrfmiddlewaretoken": self.csrf},
            name="4 start",
            allow_redirects=False,
            catch_response=True,
        ) as response:
            if response.status_code != 302:
                response.failure(f"start answered {response.status_code}")
                raise StopUser()
        paper = self.client.get(self.base, name="5 paper")
        token = _CSRF.search(paper.text or "")
        if not token:
            raise StopUser()
        self.csrf = token.group(1)
        # The choices shown per position (letters, or T/F); the candidate answers them one by one.
        choices: dict[int, list[str]] = {}
        for position, value in _QUESTION.findall(paper.text):
            choices.setdefault(int(position), []).append(value)
        self.positions = sorted(choices)
        self.choices = choices
        self.answers: dict[int, str] = {}
        self.started = time.monotonic()
        self.saves = 0
        self.done = False
        self._wait = random.uniform(0, SAVE_EVERY)  # the first change comes some time after opening

    def _form(self) -> str:
        """The whole form, urlencoded, as the browser posts it (every position; the answers so far)."""
        form = [("csrfmiddlewaretoken", self.csrf)]
        for position in self.positions:
            form.append(("positions", str(position)))
            if position in self.answers:
                form.append((f"q{position}", self.answers[position]))
        return urlencode(form)

    @task
    def work(self):
        if time.monotonic() - self.started >= MINUTES * 60:
            self._hand_in()
            return
        unanswered = [p for p in self.positions if p not in self.answers]
        for position in random.sample(unanswered, min(len(unanswered), random.randint(1, 3))):
            self.answers[position] = random.choice(self.choices[position])
        with self.client.post(
            self.base + "save/",
            data=self._form(),
            headers={"HX-Request": "true", **FORM},
            name="6 save",
            catch_response=True,
        ) as response:
            if response.status_code != 200 or "save-ok" not in (response.text or ""):
                response.failure(f"save answered {response.status_code}")
        self.saves += 1
        if self.saves % 2 == 0:
            self.client.get(self.base + "state.json", name="7 state.json")
        self._wait = SAVE_EVERY + random.uniform(-JITTER, JITTER)

    def _hand_in(self):
        with self.client.post(
            self.base + "submit/",
            data=self._form(),
            headers=FORM,
            name="8 hand in",
            allow_redirects=False,
            catch_response=True,
        ) as response:
            if response.status_code != 302:
                response.failure(f"hand-in answered {response.status_code}")
        self.client.get(self.base + "result/", name="9 result")
        raise StopUser()
