"""The demo city: Jiamusi's union tree, its employers, 27,000 synthetic workers and demo logins.

`demo_seed` builds it into an empty database in one transaction, set-based (bulk inserts and a
few UPDATEs, never one ORM save per person), and deterministically: the same seed gives the same
orgs, employers, names, ID numbers and phones (ciphertexts differ, Fernet is randomised; the keyed
hashes under the same data key do not).

The shape follows the Workers' Daily page (November 2021): the city federation and ten county-level
federations; a township/street union for every township unit and a village/community union for every
village unit as the safety net; eight head enterprises with their own unions; industry federations
for couriers, housekeeping, carers and estate agents at city level; 郊区 claims e-commerce and
logistics federations, 富锦市 a freight-logistics federation; one regional joint union in a street.
"""

from __future__ import annotations

import random
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import transaction
from django.db.models import CharField, OuterRef, Subquery, Value
from django.db.models.functions import Cast, Concat
from django.utils.translation import gettext_lazy as _

from gonghui.audit.services import audit_record
from gonghui.lib.bulk import RowWriter
from gonghui.lib.crypto import decrypt, encrypt, keyed_hash
from gonghui.lib.masking import mask_id_number, mask_phone
from gonghui.lib.threads import run_ahead as _ahead
from gonghui.orgs.models import Employer, OccupationGroup, Org, OrgKind
from gonghui.people.models import Person
from gonghui.people.services import ID_NUMBER_PURPOSE, PHONE_PURPOSE, protected_fields
from gonghui.regions.models import Region, RegionLevel

from .synth import CITY_CODE, EmployerSpec, Identity, IdentityMaker, Weighted, employer_specs

REGIONS_CSV = Path(__file__).resolve().parent.parent / "regions" / "data" / "jiamusi.csv"
DEFAULT_PEOPLE = 27_000
DEFAULT_SEED = 2021
PEOPLE_BATCH = 2000

DEMO_ADDRESS = "http://127.0.0.1:8000"
DEMO_PASSWORD = "gonghui-demo-2021"

Progress = Callable[[str, int, int], None]  # (step, done, total)


class DemoError(ValueError):
    """The demo city cannot be seeded here; the message says why (Chinese / English)."""


class DemoAlreadySeeded(DemoError):
    """The database already holds people or union orgs: seeding again would duplicate or collide."""


# --- who the demo city's workers are ---------------------------------------------------------

GROUP_CODES = (
    "rider",
    "courier",
    "ride_hailing",
    "truck_driver",
    "housekeeper",
    "carer",
    "security_guard",
    "mall_staff",
    "estate_agent",
    "platform_other",
)
# Share of the 27,000 in each group: riders and couriers most.
GROUP_SHARE = {
    "rider": 27,
    "courier": 21,
    "ride_hailing": 10,
    "truck_driver": 11,
    "housekeeper": 8,
    "carer": 5,
    "security_guard": 6,
    "mall_staff": 4,
    "estate_agent": 4,
    "platform_other": 4,
}
MALE_SHARE = {
    "rider": 0.9,
    "courier": 0.85,
    "ride_hailing": 0.93,
    "truck_driver": 0.97,
    "housekeeper": 0.1,
    "carer": 0.2,
    "security_guard": 0.9,
    "mall_staff": 0.35,
    "estate_agent": 0.5,
    "platform_other": 0.45,
}
# Workers on their own account (no employer on the census list).
NO_EMPLOYER_SHARE = {"truck_driver": 0.3, "housekeeper": 0.25, "carer": 0.2, "platform_other": 0.2}
OCCUPATIONS = {
    "rider": (("外卖骑手", 6), ("外卖配送员", 3), ("众包骑手", 2)),
    "courier": (("快递员", 6), ("快递收派员", 3), ("快递分拣员", 1)),
    "ride_hailing": (("网约车司机", 8), ("代驾司机", 2)),
    "truck_driver": (("货车司机", 6), ("重型货车司机", 2), ("冷链货车司机", 1)),
    "housekeeper": (("家政服务员", 5), ("育婴员", 2), ("月嫂", 2), ("保洁员", 2)),
    "carer": (("护工", 4), ("养老护理员", 3), ("医疗护理员", 2)),
    "security_guard": (("保安员", 8), ("巡逻员", 1)),
    "mall_staff": (("商场信息员", 4), ("导购员", 3), ("收银员", 2)),
    "estate_agent": (("房产中介员", 5), ("房产经纪人", 3)),
    "platform_other": (("电商客服", 3), ("网络主播", 2), ("同城配送员", 2), ("电商运营", 2)),
}
# Where they work, by county-level unit: the urban districts first; freight leans to 富锦市 and
# 郊区, e-commerce to 郊区 (the districts that claimed those federations).
COUNTY_WEIGHT = {
    "230803": 22,
    "230804": 18,
    "230805": 10,
    "230811": 14,
    "230822": 6,
    "230826": 4,
    "230828": 4,
    "230881": 4,
    "230882": 12,
    "230883": 6,
}
COUNTY_WEIGHT_BY_GROUP = {
    "truck_driver": {**COUNTY_WEIGHT, "230811": 22, "230882": 28, "230803": 8, "230804": 8, "230805": 6},
    "platform_other": {**COUNTY_WEIGHT, "230811": 35},
}
VILLAGE_SHARE = 0.85  # the rest work at township level (a town's own streets, markets, depots)


# --- the union tree --------------------------------------------------------------------------

HEAD_ENTERPRISE_KEYS = ("dashang", "wanda", "sf", "meituan", "jd", "post", "didi", "anxin")
FOUNDED_2021 = date(2021, 6, 28)


@dataclass(frozen=True)
class IndustryFederation:
    code: str
    name: str
    county_code: str  # where it sits: CITY_CODE or a county-level unit
    groups: tuple[str, ...]
    employer_groups: tuple[str, ...] = ()  # local firms of these groups in its area join it too
    founded_on: date = FOUNDED_2021


INDUSTRY_FEDERATIONS = (
    IndustryFederation(
        "I-230800-courier",
        "佳木斯市快递行业工会联合会",
        CITY_CODE,
        ("courier",),
        founded_on=date(2021, 5, 20),
    ),
    IndustryFederation("I-230800-housekeeping", "佳木斯市家政服务业工会联合会", CITY_CODE, ("housekeeper",)),
    IndustryFederation("I-230800-care", "佳木斯市护工护理员行业工会联合会", CITY_CODE, ("carer",)),
    IndustryFederation("I-230800-estate", "佳木斯市房产中介行业工会联合会", CITY_CODE, ("estate_agent",)),
    IndustryFederation(
        "I-230811-ecommerce", "郊区电商行业工会联合会", "230811", ("platform_other",), ("platform_other",)
    ),
    IndustryFederation(
        "I-230811-logistics",
        "郊区物流行业工会联合会",
        "230811",
        ("truck_driver", "courier"),
        ("truck_driver",),
    ),
    IndustryFederation(
        "I-230882-freight", "富锦市货运物流行业工会联合会", "230882", ("truck_driver",), ("truck_driver",)
    ),
)
JOINT_UNION_COUNTY = "230803"  # the regional joint union sits in this district's first street
JOINT_UNION_GROUPS = ("rider", "ride_hailing", "platform_other")


@dataclass
class OrgSpec:
    code: str
    name: str
    kind: str
    parent_code: str | None
    region: Region
    covers_regions: list[Region] = field(default_factory=list)
    covers_groups: tuple[str, ...] = ()
    covers_employers: tuple[str, ...] = ()  # credit codes
    founded_on: date | None = None


# --- demo logins -----------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoLogin:
    username: str
    org_code: str
    role: str
    sees: str
    can_unmask: bool = False
    is_staff: bool = (
        False  # may open the Django admin, with every permission of ADMIN_APPS (rows still scoped)
    )


# The apps whose reference data the city's admin login manages in the Django admin (which scopes rows).
ADMIN_APPS = ("regions", "orgs", "people", "accounts", "audit")

DEMO_LOGINS = (
    DemoLogin(
        "city",
        "F230800",
        "admin",
        _("the whole city: every union and every worker; may unmask ID numbers (logged); Django admin"),
        can_unmask=True,
        is_staff=True,
    ),
    DemoLogin("suburb", "F230811", "staff", _("郊区 only: its unions and the workers who work there")),
    DemoLogin(
        "qianjin", "F230804", "staff", _("前进区 only, the sibling district: refused anything of 郊区")
    ),
    DemoLogin("reviewer", "F230800", "viewer", _("the whole city, read-only, masked")),
)


@dataclass
class SeedReport:
    regions_created: int = 0
    orgs: int = 0
    orgs_by_kind: dict[str, int] = field(default_factory=dict)
    employers: int = 0
    people: int = 0
    logins: list[str] = field(default_factory=list)
    seconds: float = 0.0
    step_seconds: dict[str, float] = field(default_factory=dict)


# --- the service -----------------------------------------------------------------------------


def demo_is_seeded() -> bool:
    """Whether the database already holds people, union orgs or a demo login."""
    user_model = get_user_model()
    return (
        Person.objects.exists()
        or Org.objects.exists()
        or user_model.objects.filter(username__in=[login.username for login in DEMO_LOGINS]).exists()
    )


def demo_seed(
    *, people: int = DEFAULT_PEOPLE, random_seed: int = DEFAULT_SEED, progress: Progress | None = None
) -> SeedReport:
    """Seed the demo city into an empty database, all or nothing.

    Guarantees: refuses (DemoAlreadySeeded, nothing written) when people, orgs or demo logins
    exist; otherwise, in one transaction, loads the Jiamusi division table, builds the union tree
    (every org's path and depth consistent with its parent), ~200 employers with valid credit codes,
    `people` workers with valid, unique ID numbers and unique mobile numbers stored only protected,
    and the demo logins (each audited by the accounts service), then one `demo.seed` audit row with
    the counts. The same `random_seed` gives the same city.
    """
    if people < 0:
        raise DemoError(f"人数不能为负 / --people must be 0 or more (got {people})")
    progress = progress or (lambda step, done, total: None)
    report = SeedReport()
    started = time.perf_counter()

    def timed(step: str, started_step: float) -> None:
        report.step_seconds[step] = round(time.perf_counter() - started_step, 2)

    with transaction.atomic():
        if demo_is_seeded():
            raise DemoAlreadySeeded(
                "数据库中已有人员、工会组织或演示账号，拒绝重复生成演示城市 / the database already holds people, "
                "union orgs or demo logins: refusing to seed the demo city again (use --if-empty, or a fresh database)"
            )
        t = time.perf_counter()
        progress("regions", 0, 1)
        report.regions_created = _load_regions()
        progress("regions", 1, 1)
        timed("regions", t)

        city = _Place.load()
        groups = _occupation_groups()

        t = time.perf_counter()
        specs = employer_specs([(c.code[:6], c.name) for c in city.counties])
        employers = _create_employers(specs, city)
        report.employers = len(employers)
        timed("employers", t)

        t = time.perf_counter()
        org_specs = _org_specs(city, specs)
        orgs = _create_orgs(org_specs, groups, employers, progress)
        report.orgs = len(orgs)
        report.orgs_by_kind = dict(sorted(_count_by(spec.kind for spec in org_specs).items()))
        timed("orgs", t)

        t = time.perf_counter()
        report.people = _create_people(
            people, random.Random(random_seed), city, groups, specs, employers, progress
        )
        timed("people", t)

        t = time.perf_counter()
        report.logins = _create_logins(orgs)
        timed("logins", t)
        audit_record(
            actor=None,
            action="demo.seed",
            target=orgs["F230800"],
            detail={
                "random_seed": random_seed,
                "people": report.people,
                "orgs": report.orgs,
                "employers": report.employers,
                "logins": report.logins,
            },
        )
    report.seconds = round(time.perf_counter() - started, 2)
    return report


def _count_by(items) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for item in items:
        counts[item] += 1
    return counts


def _load_regions() -> int:
    from gonghui.regions.services import regions_load_csv

    return regions_load_csv(source=REGIONS_CSV).created


@dataclass
class _Place:
    """The city's divisions, read once: counties, and the township and village units under each."""

    city: Region
    counties: list[Region]
    townships: dict[str, list[Region]]  # county code6 -> township units
    villages: dict[str, list[Region]]  # township code9 -> village units

    @classmethod
    def load(cls) -> _Place:
        regions = list(Region.objects.filter(code__startswith=CITY_CODE[:4]).order_by("code"))
        city = next((r for r in regions if r.level == RegionLevel.CITY), None)
        if city is None:
            raise DemoError(
                f"区划表中没有佳木斯市 {CITY_CODE} / the division table lacks 佳木斯市 {CITY_CODE}"
            )
        townships: dict[str, list[Region]] = defaultdict(list)
        villages: dict[str, list[Region]] = defaultdict(list)
        for r in regions:
            if r.level == RegionLevel.TOWNSHIP:
                townships[r.code[:6]].append(r)
            elif r.level == RegionLevel.VILLAGE:
                villages[r.code[:9]].append(r)
        return cls(
            city=city,
            counties=[r for r in regions if r.level == RegionLevel.COUNTY],
            townships=dict(townships),
            villages=dict(villages),
        )

    def county(self, code6: str) -> Region:
        return next(c for c in self.counties if c.code.startswith(code6))

    def region_for(self, code6: str) -> Region:
        return self.city if code6 == CITY_CODE else self.county(code6)


def _occupation_groups() -> dict[str, OccupationGroup]:
    groups = OccupationGroup.objects.in_bulk(GROUP_CODES, field_name="code")
    missing = [code for code in GROUP_CODES if code not in groups]
    if missing:
        raise DemoError(
            f"缺少职业群体 {', '.join(missing)}（请先运行 gonghui migrate） / occupation groups missing: "
            f"{', '.join(missing)} (run `gonghui migrate` first)"
        )
    return groups


def _create_employers(specs: list[EmployerSpec], city: _Place) -> dict[str, Employer]:
    """Insert the employers; returns them by credit code, with primary keys."""
    Employer.objects.bulk_create(
        [
            Employer(
                credit_code=s.credit_code,
                name=s.name,
                region=city.region_for(s.county_code),
                is_platform=s.is_platform,
                is_head_enterprise=s.is_head,
            )
            for s in specs
        ],
        batch_size=500,
    )
    # Read back rather than trust bulk_create to return keys on every backend.
    return Employer.objects.in_bulk([s.credit_code for s in specs], field_name="credit_code")


def _org_specs(city: _Place, employers: list[EmployerSpec]) -> list[OrgSpec]:
    """The union tree, parents before children."""
    specs = [OrgSpec("F230800", "佳木斯市总工会", OrgKind.FEDERATION, None, city.city, [city.city])]
    for county in city.counties:
        code6 = county.code[:6]
        specs.append(
            OrgSpec(f"F{code6}", f"{county.name}总工会", OrgKind.FEDERATION, "F230800", county, [county])
        )
    for county in city.counties:
        code6 = county.code[:6]
        for township in city.townships.get(code6, []):
            code9 = township.code[:9]
            specs.append(
                OrgSpec(
                    f"T{code9}", f"{township.name}总工会", OrgKind.TOWNSHIP, f"F{code6}", township, [township]
                )
            )
            for village in city.villages.get(code9, []):
                specs.append(
                    OrgSpec(
                        f"V{village.code}",
                        f"{village.name}工会",
                        OrgKind.VILLAGE,
                        f"T{code9}",
                        village,
                        [village],
                    )
                )

    by_key = {e.key: e for e in employers}
    for key in HEAD_ENTERPRISE_KEYS:
        employer = by_key[key]
        parent = "F230800" if employer.county_code == CITY_CODE else f"F{employer.county_code}"
        specs.append(
            OrgSpec(
                f"E{employer.credit_code}",
                f"{employer.name}工会",
                OrgKind.ENTERPRISE,
                parent,
                city.region_for(employer.county_code),
                covers_employers=(employer.credit_code,),
                founded_on=date(2021, 4, 30),
            )
        )

    for federation in INDUSTRY_FEDERATIONS:
        region = city.region_for(federation.county_code)
        in_area = federation.county_code == CITY_CODE
        local_firms = tuple(
            e.credit_code
            for e in employers
            if e.key.startswith("firm-")
            and (in_area or e.county_code == federation.county_code)
            and set(e.groups) & set(federation.employer_groups)
        )
        specs.append(
            OrgSpec(
                federation.code,
                federation.name,
                OrgKind.INDUSTRY,
                "F230800" if in_area else f"F{federation.county_code}",
                region,
                [region],
                covers_groups=federation.groups,
                covers_employers=local_firms,
                founded_on=federation.founded_on,
            )
        )

    street = next(t for t in city.townships[JOINT_UNION_COUNTY] if t.name.endswith("街道"))
    specs.append(
        OrgSpec(
            f"J-{street.code[:9]}",
            f"{street.name}新就业形态区域联合工会",
            OrgKind.JOINT,
            f"T{street.code[:9]}",
            street,
            [street],
            covers_groups=JOINT_UNION_GROUPS,
            founded_on=date(2021, 9, 10),
        )
    )
    return specs


def _create_orgs(
    specs: list[OrgSpec],
    groups: dict[str, OccupationGroup],
    employers: dict[str, Employer],
    progress: Progress,
) -> dict[str, Org]:
    """Insert the tree level by level, then set every path with one UPDATE per level.

    The path is "/<root id>/.../<own id>/" (as `org_create` writes it): it needs the row's own key,
    so each level's paths are computed in SQL from the parent's path once the level is inserted.
    """
    depth_of: dict[str, int] = {}
    for spec in specs:
        depth_of[spec.code] = 0 if spec.parent_code is None else depth_of[spec.parent_code] + 1
    ids: dict[str, int] = {}
    max_depth = max(depth_of.values())
    done = 0
    for depth in range(max_depth + 1):
        level = [s for s in specs if depth_of[s.code] == depth]
        Org.objects.bulk_create(
            [
                Org(
                    code=s.code,
                    name=s.name,
                    kind=s.kind,
                    parent_id=ids[s.parent_code] if s.parent_code else None,
                    region=s.region,
                    founded_on=s.founded_on,
                    depth=depth,
                    path="",
                )
                for s in level
            ],
            batch_size=500,
        )
        ids.update(Org.objects.filter(code__in=[s.code for s in level]).values_list("code", "id"))
        as_text = Cast("id", output_field=CharField())
        if depth == 0:
            new_path = Concat(Value("/"), as_text, Value("/"), output_field=CharField())
        else:
            parent_path = Subquery(Org.objects.filter(pk=OuterRef("parent_id")).values("path")[:1])
            new_path = Concat(parent_path, as_text, Value("/"), output_field=CharField())
        Org.objects.filter(depth=depth, path="").update(path=new_path)
        done += len(level)
        progress("orgs", done, len(specs))

    _add_coverage(specs, ids, groups, employers)
    return Org.objects.in_bulk(list(ids), field_name="code")


def _add_coverage(
    specs: list[OrgSpec],
    ids: dict[str, int],
    groups: dict[str, OccupationGroup],
    employers: dict[str, Employer],
) -> None:
    """What each org declares to cover, written straight into the three link tables."""
    for attr, rows in (
        ("covers_regions", [(ids[s.code], r.pk) for s in specs for r in s.covers_regions]),
        ("covers_groups", [(ids[s.code], groups[g].pk) for s in specs for g in s.covers_groups]),
        ("covers_employers", [(ids[s.code], employers[c].pk) for s in specs for c in s.covers_employers]),
    ):
        m2m = Org._meta.get_field(attr)
        through = m2m.remote_field.through
        own, other = f"{m2m.m2m_field_name()}_id", f"{m2m.m2m_reverse_field_name()}_id"
        through.objects.bulk_create([through(**{own: a, other: b}) for a, b in rows], batch_size=1000)


def _create_people(
    count: int,
    rng: random.Random,
    city: _Place,
    groups: dict[str, OccupationGroup],
    specs: list[EmployerSpec],
    employers: dict[str, Employer],
    progress: Progress,
) -> int:
    """Generate `count` workers and insert them in batches of PEOPLE_BATCH; returns how many were written.

    The next batch is generated in a thread while this one is being inserted: the database does its
    work with the interpreter lock released, so the two overlap. Generation stays in one thread, in
    order, so the seed still decides everything.
    """
    draw = _PersonDraw(city, specs, employers)
    _check_protected_columns(IdentityMaker(random.Random(0)).make(sex="F"))
    writer = RowWriter(Person, convert={"birth_date"})
    batches = _people_batches(count, rng, draw, writer, {code: g.id for code, g in groups.items()})
    progress("people", 0, count)
    written = 0
    with closing(_ahead(batches)) as ready:  # closing: the helper thread ends here, even on an error
        for batch in ready:
            writer.insert(batch)
            written += len(batch)
            progress("people", written, count)
    return written


def _people_batches(
    count: int, rng: random.Random, draw: _PersonDraw, writer: RowWriter, group_ids: dict[str, int]
) -> Iterator[list[tuple]]:
    """The rows of `count` workers, PEOPLE_BATCH at a time. Touches no database."""
    maker = IdentityMaker(rng)
    made = 0
    while made < count:
        batch = []
        for _i in range(min(PEOPLE_BATCH, count - made)):
            group = draw.group.draw(rng)
            county = draw.county[group].draw(rng)
            work = draw.work_region(rng, county)
            home = draw.home_region(rng, county, work)
            sex = "M" if rng.random() < MALE_SHARE[group] else "F"
            who = maker.make(sex=sex, ethnic_hint=draw.ethnic_hint(home))
            batch.append(
                writer.row(
                    name=who.name,
                    employer_id=draw.employer[(group, county)].draw(rng),
                    group_id=group_ids[group],
                    occupation=draw.occupation[group].draw(rng),
                    work_region_id=work.id,
                    home_region_id=home.id,
                    **_protected_columns(who),
                )
            )
        made += len(batch)
        yield batch


def _protected_columns(who: Identity) -> dict[str, object]:
    """The Person columns `people.services.protected_fields` gives, for an ID number and phone made valid.

    Why not call `protected_fields` itself: it normalises and re-parses each number (twice for the ID)
    to accept what people type, which is two thirds of its cost; these numbers are canonical by
    construction and their birth date and sex are known. The encryption (Fernet) and the keyed hashes
    are the same library calls. `_check_protected_columns` holds the two paths equal at every seed,
    and the tests hold them equal too.
    """
    return {
        "id_number_cipher": encrypt(who.id_number),
        "id_number_hash": keyed_hash(ID_NUMBER_PURPOSE, who.id_number),
        "id_number_masked": mask_id_number(who.id_number),
        "birth_date": who.birth_date,
        "sex": who.sex,
        "birthplace_code": who.birthplace_code,
        "phone_cipher": encrypt(who.phone),
        "phone_hash": keyed_hash(PHONE_PURPOSE, who.phone),
        "phone_masked": mask_phone(who.phone),
    }


def _check_protected_columns(who: Identity) -> None:
    """Refuse to seed if the fast path and `protected_fields` disagree on anything but the ciphertext."""
    fast = _protected_columns(who)
    slow = protected_fields(id_number=who.id_number, phone=who.phone)
    plain = {"id_number_cipher", "phone_cipher"}
    same = fast.keys() == slow.keys() and all(
        decrypt(fast[k]) == decrypt(slow[k]) if k in plain else fast[k] == slow[k] for k in slow
    )
    if not same:
        raise DemoError(
            "演示数据的个人信息字段与 protected_fields 不一致 / demo columns differ from protected_fields"
        )


class _PersonDraw:
    """The weighted tables people are drawn from, built once per seed run."""

    def __init__(self, city: _Place, specs: list[EmployerSpec], employers: dict[str, Employer]):
        self.city = city
        self.group = Weighted(list(GROUP_SHARE), list(GROUP_SHARE.values()))
        county_codes = [c.code[:6] for c in city.counties]
        self.county = {
            g: Weighted(
                county_codes, [COUNTY_WEIGHT_BY_GROUP.get(g, COUNTY_WEIGHT).get(c, 1) for c in county_codes]
            )
            for g in GROUP_CODES
        }
        self.occupation = {
            g: Weighted([o for o, _w in OCCUPATIONS[g]], [w for _o, w in OCCUPATIONS[g]]) for g in GROUP_CODES
        }
        # Employer of a worker of group g in county c: the city-wide employers of g and the local ones in c.
        self.employer: dict[tuple[str, str], Weighted] = {}
        for g in GROUP_CODES:
            for c in county_codes:
                pool = [s for s in specs if g in s.groups and s.county_code in (CITY_CODE, c)]
                weights = [s.weight for s in pool]
                ids: list[int | None] = [employers[s.credit_code].pk for s in pool]
                own_account = NO_EMPLOYER_SHARE.get(g, 0.0)
                if own_account or not pool:
                    ids.append(None)
                    weights.append(sum(weights) * own_account / (1 - own_account) if pool else 1.0)
                self.employer[(g, c)] = Weighted(ids, weights)
        self.units: dict[str, list[Region]] = {}
        self.villages_of: dict[str, list[Region]] = {}
        for c in county_codes:
            townships = city.townships.get(c, [])
            self.units[c] = townships
            self.villages_of[c] = [v for t in townships for v in city.villages.get(t.code[:9], [])]
        self._hint = {}
        for townships in city.townships.values():
            for t in townships:
                hint = "korean" if "朝鲜族" in t.name else "hezhe" if "赫哲族" in t.name else ""
                if hint:
                    self._hint[t.code[:9]] = hint

    def work_region(self, rng: random.Random, county: str) -> Region:
        villages = self.villages_of[county]
        if villages and rng.random() < VILLAGE_SHARE:
            return rng.choice(villages)
        units = self.units[county]
        return rng.choice(units) if units else self.city.county(county)

    def home_region(self, rng: random.Random, county: str, work: Region) -> Region:
        roll = rng.random()
        if roll < 0.65:
            return work
        if roll < 0.9:
            return self.work_region(rng, county)
        return self.work_region(rng, self.county["rider"].draw(rng))

    def ethnic_hint(self, home: Region) -> str:
        return self._hint.get(home.code[:9], "")


def _create_logins(orgs: dict[str, Org]) -> list[str]:
    """The demo logins, through the accounts service (validated password, Argon2, audited)."""
    from gonghui.accounts.services import user_create

    user_model = get_user_model()
    for login in DEMO_LOGINS:
        user = user_create(
            username=login.username,
            password=DEMO_PASSWORD,
            org=orgs[login.org_code],
            role=login.role,
            can_unmask=login.can_unmask,
        )
        if login.is_staff:
            user_model.objects.filter(pk=user.pk).update(is_staff=True)
            user.user_permissions.add(*Permission.objects.filter(content_type__app_label__in=ADMIN_APPS))
    return [login.username for login in DEMO_LOGINS]


def demo_logins() -> list[tuple[DemoLogin, Org | None, bool]]:
    """The demo logins with their orgs, and whether each exists in this database."""
    user_model = get_user_model()
    existing = set(
        user_model.objects.filter(username__in=[x.username for x in DEMO_LOGINS]).values_list(
            "username", flat=True
        )
    )
    orgs = Org.objects.in_bulk([x.org_code for x in DEMO_LOGINS], field_name="code")
    return [(login, orgs.get(login.org_code), login.username in existing) for login in DEMO_LOGINS]


__all__ = [
    "DEMO_ADDRESS",
    "DEMO_LOGINS",
    "DEMO_PASSWORD",
    "DemoAlreadySeeded",
    "DemoError",
    "SeedReport",
    "demo_is_seeded",
    "demo_logins",
    "demo_seed",
]
