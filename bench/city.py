"""The synthetic city that the weave benchmarks build (bench/weave_run.py, bench/coverage_page.py).

Set-based in SQL on PostgreSQL (generate_series, INSERT … SELECT), inside the caller's
transaction; not timed by the benchmarks. On top of the Jiamusi divisions (`gonghui regions
load`): 14 more townships per county and 12 more villages per township (demo regions, about
2,500 villages), the unions, and the people. A person's village is a pseudo-random function of
their number and their occupation group (`i / 7`) is independent of it, so every village has
people of every group.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GONGHUI = str(ROOT / ".venv" / "bin" / "gonghui")
DEFAULT_PG_URL = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")


def database_url(pg_url: str, name: str) -> str:
    return f"{pg_url.rsplit('/', 1)[0]}/{name}"


def fresh_database(pg_url: str, name: str) -> str:
    """Drop and create the database `name` on the server of `pg_url`; its URL."""
    import psycopg

    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return database_url(pg_url, name)


def drop_database(pg_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def django_on(db_url: str, *, load_regions: bool = True) -> dict[str, str]:
    """Point this process (and its children) at `db_url`, migrate, load the divisions, set Django up; the env."""
    env = {**os.environ, "DATABASE_URL": db_url, "DJANGO_SETTINGS_MODULE": "gonghui.settings"}
    os.environ.update(env)
    commands = [[GONGHUI, "migrate", "-v0"]] + ([[GONGHUI, "regions", "load"]] if load_regions else [])
    for cmd in commands:
        subprocess.run(cmd, env=env, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    import django

    django.setup()
    return env


def insert_select(cur, model, given: dict[str, str], tail: str, params=()) -> int:
    """INSERT INTO model (...) SELECT <given, and the model's defaults for other NOT NULL columns> <tail>.

    The SQL in `given` takes no parameters (write mod(), not %); the defaults' come first, then `params`.
    """
    from django.db import connection
    from django.db.models import DateTimeField

    cols, exprs, fill = [], [], []
    for f in model._meta.concrete_fields:
        if f.column in given:
            cols.append(f.column)
            exprs.append(given[f.column])
        elif f.primary_key or f.null:
            continue
        elif isinstance(f, DateTimeField) and (f.auto_now or f.auto_now_add):
            cols.append(f.column)
            exprs.append("now()")
        else:
            cols.append(f.column)
            exprs.append("%s")
            fill.append(f.get_db_prep_save(f.get_default(), connection))
    q = connection.ops.quote_name
    cur.execute(
        f"INSERT INTO {model._meta.db_table} ({', '.join(q(c) for c in cols)}) SELECT {', '.join(exprs)} {tail}",
        [*fill, *params],
    )
    return cur.rowcount


def add_regions(cur) -> dict[str, int]:
    """14 more townships per county, 12 more villages per township (demo regions); counts per level."""
    from gonghui.regions.models import Region

    insert_select(
        cur,
        Region,
        {
            "code": "SUBSTR(c.code, 1, 6) || LPAD((500 + t)::text, 3, '0') || '000'",
            "name": "c.name || '第' || t || '镇'",
            "level": "4",
            "parent_id": "c.id",
            "is_demo": "true",
        },
        "FROM regions_region c CROSS JOIN generate_series(1, 14) t WHERE c.level = 3",
    )
    insert_select(
        cur,
        Region,
        {
            "code": "SUBSTR(t.code, 1, 9) || LPAD((600 + v)::text, 3, '0')",
            "name": "t.name || '第' || v || '村'",
            "level": "5",
            "parent_id": "t.id",
            "is_demo": "true",
        },
        "FROM regions_region t CROSS JOIN generate_series(1, 12) v WHERE t.level = 4",
    )
    cur.execute("SELECT level, COUNT(*) FROM regions_region GROUP BY level ORDER BY level")
    return {f"regions_l{level}": n for level, n in cur.fetchall()}


def add_employers(cur, n: int) -> None:
    from gonghui.orgs.models import Employer

    insert_select(
        cur,
        Employer,
        {"credit_code": "'BENCH' || LPAD(i::text, 13, '0')", "name": "'单位' || i"},
        f"FROM generate_series(1, {int(n)}) i",
    )


def add_unions(cur, *, weave_kinds: bool, orgs: int = 0) -> dict[str, int]:
    """The city and county federations and a union per village; with `weave_kinds` also every kind the weave reads.

    Those are: a township union per township, an industry federation per county and group and one
    per group for the city (covering their region and group), a joint union per township and a
    riders-and-couriers joint union per county, and enterprise unions (one per employer, 2% of
    them dissolved) up to `orgs` unions in all. Every union under the city federation.
    """
    from gonghui.orgs.models import Org

    def unions(given: dict[str, str], tail: str) -> None:
        insert_select(cur, Org, {"path": "''", "depth": "1", "status": "'active'", **given}, tail)

    unions(
        {"code": "'F' || r.code", "name": "r.name || '总工会'", "kind": "'federation'", "region_id": "r.id"},
        "FROM regions_region r WHERE r.level IN (2, 3)",
    )
    unions(
        {"code": "'V' || r.code", "name": "r.name || '工会'", "kind": "'village'", "region_id": "r.id"},
        "FROM regions_region r WHERE r.level = 5",
    )
    if weave_kinds:
        unions(
            {
                "code": "'T' || r.code",
                "name": "r.name || '总工会'",
                "kind": "'township'",
                "region_id": "r.id",
            },
            "FROM regions_region r WHERE r.level = 4",
        )
        unions(
            {
                "code": "'I' || g.code || r.code",
                "name": "r.name || g.name || '行业工会联合会'",
                "kind": "'industry'",
                "region_id": "r.id",
            },
            "FROM regions_region r CROSS JOIN orgs_occupationgroup g WHERE r.level IN (2, 3)",
        )
        unions(
            {"code": "'J' || r.code", "name": "r.name || '联合工会'", "kind": "'joint'", "region_id": "r.id"},
            "FROM regions_region r WHERE r.level = 4",
        )
        unions(
            {
                "code": "'JR' || r.code",
                "name": "r.name || '骑手快递员联合工会'",
                "kind": "'joint'",
                "region_id": "r.id",
            },
            "FROM regions_region r WHERE r.level = 3",
        )
        cur.execute("SELECT COUNT(*) FROM orgs_org")
        enterprises = max(0, orgs - cur.fetchone()[0])
        unions(
            {
                "code": "'E' || e.id",
                "name": "e.name || '工会'",
                "kind": "'enterprise'",
                "status": "CASE WHEN mod(e.id, 50) = 0 THEN 'dissolved' ELSE 'active' END",
            },
            f"FROM orgs_employer e ORDER BY e.id LIMIT {int(enterprises)}",
        )
        # What they declare: industry federations their region and group, the county joint unions
        # riders and couriers, enterprise unions their employer.
        cur.execute(
            "INSERT INTO orgs_org_covers_regions (org_id, region_id) SELECT id, region_id FROM orgs_org "
            "WHERE kind = 'industry'"
        )
        cur.execute(
            "INSERT INTO orgs_org_covers_groups (org_id, occupationgroup_id) SELECT o.id, g.id FROM orgs_org o "
            "JOIN orgs_occupationgroup g ON o.code = 'I' || g.code || SUBSTR(o.code, LENGTH(g.code) + 2) "
            "WHERE o.kind = 'industry'"
        )
        cur.execute(
            "INSERT INTO orgs_org_covers_groups (org_id, occupationgroup_id) SELECT o.id, g.id FROM orgs_org o "
            "JOIN orgs_occupationgroup g ON g.code IN ('rider', 'courier') WHERE o.code LIKE 'JR%%'"
        )
        cur.execute(
            "INSERT INTO orgs_org_covers_employers (org_id, employer_id) SELECT o.id, e.id FROM orgs_org o "
            "JOIN orgs_employer e ON o.code = 'E' || e.id"
        )
    cur.execute(
        "UPDATE orgs_org o SET parent_id = c.id, path = '/' || c.id || '/' || o.id || '/' "
        "FROM orgs_org c WHERE c.code = 'F230800000000' AND o.id <> c.id"
    )
    cur.execute("UPDATE orgs_org SET path = '/' || id || '/', depth = 0 WHERE code = 'F230800000000'")
    cur.execute("SELECT kind, COUNT(*) FROM orgs_org GROUP BY kind ORDER BY kind")
    return {f"orgs_{kind}": n for kind, n in cur.fetchall()}


def add_people(cur, people: int, *, spread: bool, employers: bool, no_group_every: int = 0) -> int:
    """`people` people in pseudo-random villages, of one of the ten groups independently of the village.

    With `spread`, the village is the work region of 95%, only the home region of 4% and neither of
    1%; else everyone works there. With `employers`, 35% work for one of the employers. With
    `no_group_every` n, one person in n has no group.
    """
    from gonghui.people.models import Person

    cur.execute(
        "CREATE TEMP TABLE villages AS SELECT id, ROW_NUMBER() OVER (ORDER BY code) - 1 AS n "
        "FROM regions_region WHERE level = 5"
    )
    cur.execute(
        "CREATE TEMP TABLE groups AS SELECT id, ROW_NUMBER() OVER (ORDER BY id) - 1 AS n FROM orgs_occupationgroup"
    )
    cur.execute("SELECT COUNT(*) FROM villages")
    n_villages = cur.fetchone()[0]
    cur.execute("SELECT COUNT(*) FROM orgs_employer")
    n_employers = cur.fetchone()[0]
    given = {
        "name": "'P' || i",
        "id_number_masked": "'230811********' || LPAD(mod(i, 10000)::text, 4, '0')",
        "group_id": f"CASE WHEN mod(i, {int(no_group_every)}) <> 0 THEN g.id END"
        if no_group_every
        else "g.id",
        "work_region_id": "CASE WHEN mod(i, 100) < 95 THEN v.id END" if spread else "v.id",
    }
    if spread:
        given["home_region_id"] = "CASE WHEN mod(i, 100) BETWEEN 95 AND 98 THEN v.id END"
    if employers and n_employers:
        given["employer_id"] = (
            f"CASE WHEN mod(i, 20) < 7 THEN 1 + mod(i::bigint * 7919, {int(n_employers)}) END"
        )
    n = insert_select(
        cur,
        Person,
        given,
        f"FROM generate_series(1, {int(people)}) i "
        f"JOIN villages v ON v.n = mod(i::bigint * 2654435761, {int(n_villages)}) "
        # The group independent of the village (i / 7, not i: i * 31 mod 10 is fixed by i mod 10,
        # which the village's number shares, so each village held people of only a few groups).
        "JOIN groups g ON g.n = mod(i / 7, 10)",
    )
    cur.execute("DROP TABLE villages")
    cur.execute("DROP TABLE groups")
    return n
