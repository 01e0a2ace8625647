"""A contest's statistics as the newspaper reported Jilin's: page views, registrations, enterprises,
unions, training sessions, preliminary candidates, finalists and average scores, by trade and by region.

Every breakdown is one GROUP BY query over the contest's registrations (and one over its practice
sessions, a different table); finalists come from `ranking.preliminary_results`, which applies the
trade's quota or cut-off and the policy's tie rule. Only counts and averages leave this module: no
one is named. Access is the caller's business: the public page passes a contest anyone may see; the
staff page and the API pass one fetched with `selectors.access_contest` (404 outside the viewer's subtree).

A registration's region is, in this order: where its enterprise is, else its union's, else the work
area the worker chose when registering (`Registration.region`: the public pages ask it of everyone,
since their enterprise is typed, not a known one), else the person's work region; "unknown region"
when none is known. A region coarser than the level counted by (an enterprise registered at the
city, in a city's contest counted by county) does not place a registration when a later one in the
order does; it is used only when no region at the counted level or below is known.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Avg, Case, Count, F, Q, When
from django.db.models.functions import Coalesce, Substr
from django.utils.translation import gettext as _

from gonghui.analytics.services import views_by_day, views_total
from gonghui.regions.models import PREFIX_LENGTH, Region, RegionLevel

from .models import AttemptStatus, Contest, PracticeSession, Registration

_FINISHED = [AttemptStatus.SUBMITTED, AttemptStatus.CLOSED]
# A registration's regions in the order the statistics look at them (see the module docstring).
_REGION_SOURCES = ("employer__region", "union__region", "region", "person__work_region")


def _region_code(level: int, path: str = ""):
    """The code of the first of a registration's regions at `level` or below, else of the first known;
    `path` leads to the registration ("registration__" from a practice session)."""
    fields = [f"{path}{source}" for source in _REGION_SOURCES]
    at_level = [Case(When(**{f"{f}__level__gte": level}, then=F(f"{f}__code"))) for f in fields]
    return Coalesce(*at_level, *(F(f"{f}__code") for f in fields))


def page_key_prefix(contest: Contest) -> str:
    return f"contest:{contest.code}:"


def page_key(contest: Contest, page: str) -> str:
    """The analytics key of one of a contest's public pages ("page", "bank", "register")."""
    return f"{page_key_prefix(contest)}{page}"


@dataclass
class Figures:
    """One row of a breakdown (or the totals): counts and the average preliminary score."""

    key: str
    label: str
    registrations: int = 0
    enterprises: int = 0
    unions: int = 0
    practice_sessions: int = 0
    candidates: int = 0
    finalists: int = 0
    average: Decimal | None = None


@dataclass
class ContestFigures:
    totals: Figures
    page_views: int
    views_by_day: list[tuple]
    by_trade: list[Figures] = field(default_factory=list)
    by_region: list[Figures] = field(default_factory=list)

    def chart_data(self) -> dict:
        """The series the page's charts draw ({labels, values} each), for json_script."""

        def series(rows: list[Figures], attr: str) -> dict:
            return {"labels": [r.label for r in rows], "values": [_number(getattr(r, attr)) for r in rows]}

        return {
            "trade_registrations": series(self.by_trade, "registrations"),
            "trade_candidates": series(self.by_trade, "candidates"),
            "trade_average": series([r for r in self.by_trade if r.average is not None], "average"),
            "region_registrations": series(self.by_region, "registrations"),
            "views_by_day": {
                "labels": [day.isoformat() for day, _n in self.views_by_day],
                "values": [n for _day, n in self.views_by_day],
            },
        }


def _number(value):
    return float(value) if isinstance(value, Decimal) else value


def _average(value) -> Decimal | None:
    return Decimal(str(value)).quantize(Decimal("0.01")) if value is not None else None


def _aggregates():
    """The aggregates every breakdown takes over registrations (the attempt is 1:1, so no fan-out)."""
    return {
        "n_registrations": Count("id"),
        "n_enterprises": Count("enterprise_name", distinct=True),
        "n_unions": Count("union", distinct=True),
        "n_candidates": Count("attempt", filter=Q(attempt__status__in=_FINISHED)),
        "avg_score": Avg("attempt__score", filter=Q(attempt__status__in=_FINISHED)),
    }


def _fill(figures: Figures, row: dict) -> Figures:
    figures.registrations = row["n_registrations"]
    figures.enterprises = row["n_enterprises"]
    figures.unions = row["n_unions"]
    figures.candidates = row["n_candidates"]
    figures.average = _average(row["avg_score"])
    return figures


def finalist_ids(contest: Contest) -> set[int]:
    """The registrations that advance to the finals, by each trade's rule and the policy's tie rule."""
    from .policy import contest_policy
    from .ranking import preliminary_results

    # Only trades someone finished the preliminary in can have finalists: one query to find them.
    trades = list(contest.trades.filter(registrations__attempt__status__in=_FINISHED).distinct())
    if not trades:
        return set()
    tie_rule = contest_policy(contest.policy_file).tie_rule if contest.policy_file else ("total_desc",)
    return {r.registration_id for trade in trades for r in preliminary_results(trade, tie_rule) if r.advances}


def region_level(contest: Contest) -> RegionLevel:
    """The level a contest's regions are counted at: one below its organiser's (a province's contest by city)."""
    level = (
        Region.objects.filter(orgs=contest.organiser_id).values_list("level", flat=True).first()
        or RegionLevel.PROVINCE
    )
    return RegionLevel(min(level + 1, RegionLevel.VILLAGE))


def contest_figures(contest: Contest) -> ContestFigures:
    """Totals, the breakdown by trade and by region, and the page views of `contest` (aggregates only)."""
    registrations = Registration.objects.filter(trade__contest=contest)
    finalists = finalist_ids(contest)
    prefix = page_key_prefix(contest)

    totals = _fill(Figures(key="", label=_("All trades")), registrations.aggregate(**_aggregates()))
    totals.practice_sessions = PracticeSession.objects.filter(trade__contest=contest).count()
    totals.finalists = len(finalists)

    trades = list(contest.trades.order_by("sort", "code").values_list("id", "code", "name"))
    by_trade = {tid: Figures(key=code, label=name) for tid, code, name in trades}
    for row in registrations.values("trade_id").annotate(**_aggregates()).order_by():
        _fill(by_trade[row["trade_id"]], row)
    for row in (
        PracticeSession.objects.filter(trade__contest=contest)
        .values("trade_id")
        .annotate(n=Count("id"))
        .order_by()
    ):
        by_trade[row["trade_id"]].practice_sessions = row["n"]
    if finalists:
        for row in (
            registrations.filter(id__in=finalists).values("trade_id").annotate(n=Count("id")).order_by()
        ):
            by_trade[row["trade_id"]].finalists = row["n"]

    level = region_level(contest)
    width = PREFIX_LENGTH[level]
    area = Substr(_region_code(level), 1, width)
    by_region: dict[str | None, Figures] = {}
    for row in registrations.annotate(area=area).values("area").annotate(**_aggregates()).order_by():
        by_region[row["area"]] = _fill(Figures(key=row["area"] or "", label=""), row)
    for row in (
        PracticeSession.objects.filter(trade__contest=contest)
        .annotate(area=Substr(_region_code(level, "registration__"), 1, width))
        .values("area")
        .annotate(n=Count("id"))
        .order_by()
    ):
        by_region.setdefault(row["area"], Figures(key=row["area"] or "", label="")).practice_sessions = row[
            "n"
        ]
    if finalists:
        for row in (
            registrations.filter(id__in=finalists)
            .annotate(area=area)
            .values("area")
            .annotate(n=Count("id"))
            .order_by()
        ):
            by_region[row["area"]].finalists = row["n"]
    names = dict(
        Region.objects.filter(code__in=[a.ljust(12, "0") for a in by_region if a]).values_list("code", "name")
    )
    for area, figures in by_region.items():
        figures.label = names.get(area.ljust(12, "0"), area) if area else _("Region unknown")

    return ContestFigures(
        totals=totals,
        page_views=views_total(prefix=prefix),
        views_by_day=views_by_day(prefix=prefix),
        by_trade=list(by_trade.values()),
        by_region=sorted(by_region.values(), key=lambda f: (f.key == "", f.key)),
    )


def _headers() -> list[str]:
    return [
        _("Registrations"),
        _("Enterprises"),
        _("Unions"),
        _("Training sessions"),
        _("Preliminary candidates"),
        _("Finalists"),
        _("Average preliminary score"),
    ]


def _cells(f: Figures) -> list:
    return [
        f.registrations,
        f.enterprises,
        f.unions,
        f.practice_sessions,
        f.candidates,
        f.finalists,
        float(f.average) if f.average is not None else None,
    ]


def figures_xlsx(contest: Contest, figures: ContestFigures) -> bytes:
    """The statistics as a workbook: totals, by trade, by region, page views by day."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = _("Totals")[:31]
    sheet.append([contest.name])
    sheet.append([_("Page views"), figures.page_views])
    for header, value in zip(_headers(), _cells(figures.totals), strict=True):
        sheet.append([header, value])
    for title, first, rows in (
        (_("By trade"), _("Trade"), figures.by_trade),
        (_("By region"), _("Region"), figures.by_region),
    ):
        sheet = book.create_sheet(title=title[:31])
        sheet.append([first, *_headers()])
        for row in rows:
            sheet.append([row.label, *_cells(row)])
    sheet = book.create_sheet(title=_("Page views")[:31])
    sheet.append([_("Day"), _("Page views")])
    for day, n in figures.views_by_day:
        sheet.append([day, n])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
