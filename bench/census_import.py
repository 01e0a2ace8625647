"""Census import and linkage at 10k / 100k / 1M rows into PostgreSQL, beside a plain Splink run.

    .venv/bin/python bench/census_import.py                       # 10000,100000,1000000
    .venv/bin/python bench/census_import.py --sizes 10000,100000
    .venv/bin/python bench/census_import.py --skip-splink --keep --pg-url postgres://postgres@127.0.0.1:5432/postgres

For each size the script
1. writes (or reuses, cached by size and seed under the temp dir) one CSV of messy census rows:
   people drawn by `gonghui.census.messy` (names with traditional forms, homophone typos, spaces
   and other middle dots; 15-digit, full-width, mistyped and missing ID numbers; phones with +86
   and separators; twins and the commonest names), each on one to four of the seven source lists
   (about 2.2 rows a person), every row written with the columns its list has into one file with
   the union of the columns (姓名, 身份证号, 身份证后四位, 性别, 出生日期, 手机号, 工作单位, 职业,
   现住址, 所属社区, and 序号 the row's number); `truth_<size>_<seed>.csv` says who each row is;
2. drops and creates its own PostgreSQL database (`gonghui_bench_census`), runs `gonghui migrate`
   and `gonghui regions load` (not timed);
3. times `gonghui census import FILE --source platform` as a user runs it (a child process:
   Python start-up and Django set-up included), with the child's peak resident memory (from
   `wait4`), and the time of each stage from the progress lines the import prints on stderr;
4. runs a plain Splink 5 + DuckDB deduplication of the same CSV in a child process (this script
   with `--splink-worker`): the raw name, ID number, phone and birth date columns, ordinary
   comparisons and blocking rules, lambda, u and m estimated as the Splink tutorials do (direct
   estimate, random sampling, EM on two blocking rules), predict, cluster at 0.95 ("tutorial");
   and a second configuration that does the same job as gonghui ("same-job": the last four ID
   characters compared too, and a name + last-four blocking rule, so rows without an ID number
   can meet), reported in a second table. Neither cleans, writes to a database or encrypts.

It prints one line per run and a Markdown table at the end. Growth is (time ratio) / (size
ratio) against the previous size: 1.0 is linear.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

GONGHUI = str(ROOT / ".venv" / "bin" / "gonghui")
PYTHON = sys.executable
DB_NAME = "gonghui_bench_census"
SEED = 20211101
CACHE = Path(tempfile.gettempdir()) / "gonghui_bench_census"

# The combined file's columns: (header, the generator's field names that fill it).
COLUMNS = (
    ("序号", ("seq",)),
    ("姓名", ("name",)),
    ("身份证号", ("id_number",)),
    ("身份证后四位", ("id_last4",)),
    ("性别", ("sex",)),
    ("出生日期", ("birth_date",)),
    ("手机号", ("phone",)),
    ("工作单位", ("employer",)),
    ("职业", ("occupation",)),
    ("现住址", ("address",)),
    ("所属社区", ("region", "county")),
)


# --- the data ------------------------------------------------------------------------------------


def census_csv(size: int, seed: int = SEED) -> Path:
    """One CSV of `size` messy rows (cached by size and seed) and its truth file beside it."""
    from gonghui.census import messy

    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"census_{size}_{seed}.csv"
    truth = CACHE / f"truth_{size}_{seed}.csv"
    if path.exists() and truth.exists():
        return path
    started = time.perf_counter()
    rng = random.Random(seed)
    codes = sorted(messy.region_table())
    kinds = list(messy.SOURCE_KINDS)
    crowd = messy._draw_people(int(size / 2.2) + 10, rng, codes)
    rows: list[tuple[int, dict[str, str]]] = []
    for person in crowd:
        for kind in messy._sources_of(person, kinds, rng):
            spec = messy.SOURCES[kind]
            rows.append((person.index, messy._row_values(person, spec, rng)))
            if rng.random() < 0.02:  # the same person twice on one list, typed again
                rows.append((person.index, messy._row_values(person, spec, rng)))
        if len(rows) >= size * 1.05:
            break
    while len(rows) < size:  # not enough: more people (only for tiny sizes)
        person = crowd[rng.randrange(len(crowd))]
        rows.append((person.index, messy._row_values(person, messy.SOURCES["hrss"], rng)))
    rng.shuffle(rows)
    rows = rows[:size]
    partial = path.with_suffix(".part")
    with (
        partial.open("w", encoding="utf-8", newline="") as handle,
        truth.open("w", encoding="utf-8", newline="") as truth_handle,
    ):
        writer = csv.writer(handle)
        writer.writerow([header for header, _f in COLUMNS])
        truth_writer = csv.writer(truth_handle)
        truth_writer.writerow(["source_row", "true_person"])
        for number, (person_index, values) in enumerate(rows, start=2):
            values["seq"] = str(number - 1)
            writer.writerow([next((values[f] for f in fields if f in values), "") for _h, fields in COLUMNS])
            truth_writer.writerow([number, person_index])
    partial.rename(path)
    people = len({p for p, _v in rows})
    print(
        f"  generated {path.name}: {size} rows of {people} people in {time.perf_counter() - started:.1f} s",
        flush=True,
    )
    return path


# --- measuring a child process --------------------------------------------------------------------


def run_measured(cmd: list[str], env: dict[str, str] | None = None, timeout: float | None = None):
    """Run `cmd`; return (wall seconds, peak RSS MB, exit code, stdout, [(seconds, stderr line)]).

    Peak memory is the child's own ru_maxrss from wait4 (kilobytes on Linux), so earlier, larger
    children do not mask it as RUSAGE_CHILDREN would.
    """
    lines: list[tuple[float, str]] = []
    out: list[str] = []
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def pump_err():
        for line in proc.stderr:
            lines.append((time.perf_counter() - started, line.rstrip("\n")))

    def pump_out():
        out.append(proc.stdout.read())

    threads = [threading.Thread(target=pump_err, daemon=True), threading.Thread(target=pump_out, daemon=True)]
    for t in threads:
        t.start()
    timer = None
    if timeout:
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    if timer:
        timer.cancel()
    proc.returncode = os.waitstatus_to_exitcode(status)
    for t in threads:
        t.join()
    return wall, usage.ru_maxrss / 1024, proc.returncode, "".join(out), lines


def stage_times(lines: list[tuple[float, str]], wall: float, killed: bool = False) -> dict[str, float]:
    """Seconds per stage from the import's progress lines (`stage: done/total`).

    "start+read" runs from the process start to the end of reading (Python and Django start-up
    included); each later stage runs from its first line to the next stage's first line; the
    write stage ends at its last line, and what is left (commit, summary, exit) is "commit+exit";
    for a run killed at the timeout the last stage runs to the kill and is marked "(killed)".
    """
    firsts: dict[str, float] = {}
    lasts: dict[str, float] = {}
    order: list[str] = []
    for at, line in lines:
        stage, sep, rest = line.partition(": ")
        if not sep or "/" not in rest:
            continue
        if stage not in firsts:
            firsts[stage] = at
            order.append(stage)
        lasts[stage] = at
    out: dict[str, float] = {}
    if "read" in firsts:
        out["start+read"] = firsts["read"]
    stages = [s for s in order if s != "read"]
    for i, stage in enumerate(stages):
        end = firsts[stages[i + 1]] if i + 1 < len(stages) else lasts[stage]
        out[stage] = end - firsts[stage]
    if stages and killed:
        out[f"{stages[-1]} (killed)"] = wall - firsts[stages[-1]]
        del out[stages[-1]]
    elif stages:
        out["commit+exit"] = wall - lasts[stages[-1]]
    return out


# --- the database ---------------------------------------------------------------------------------


def fresh_database(pg_url: str) -> str:
    import psycopg

    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    base = pg_url.rsplit("/", 1)[0]
    return f"{base}/{DB_NAME}"


def drop_database(pg_url: str) -> None:
    import psycopg

    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')


def gonghui_env(db_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env["DATABASE_URL"] = db_url
    return env


def gonghui_run(size: int, path: Path, pg_url: str, timeout: float | None) -> dict:
    db_url = fresh_database(pg_url)
    env = gonghui_env(db_url)
    for cmd in ([GONGHUI, "migrate", "-v0"], [GONGHUI, "regions", "load"]):
        subprocess.run(cmd, env=env, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    wall, peak, code, out, lines = run_measured(
        [GONGHUI, "census", "import", str(path), "--source", "platform"], env=env, timeout=timeout
    )
    if code != 0:
        tail = "\n".join(line for _t, line in lines[-15:])
        print(f"  gonghui import exited {code} after {wall:.1f} s\n{tail}", flush=True)
    result = {
        "seconds": wall,
        "peak_mb": peak,
        "exit": code,
        "summary": out.strip().splitlines()[-1] if out.strip() else "",
        "stages": stage_times(lines, wall, killed=code < 0),
        "last_progress": lines[-1][1] if lines else "",
    }
    if code == 0:
        links = path.with_name(path.stem + "_gonghui_links.csv")
        subprocess.run(
            [GONGHUI, "census", "export-links", str(links)],
            env=env,
            cwd=ROOT,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        result["accuracy"] = pairwise_f1(truth_of(path), links, "source_row", "person_id")
    return result


def truth_of(path: Path) -> Path:
    return path.with_name(path.name.replace("census_", "truth_", 1))


# --- plain Splink ---------------------------------------------------------------------------------


SPLINK_VARIANTS = ("tutorial", "same-job")


def splink_worker(path: Path, variant: str = "tutorial") -> None:
    """A plain Splink 5 + DuckDB dedupe of the CSV; prints a JSON line.

    "tutorial": as its tutorials show (name, ID number, phone, birth date; blocked on ID number,
    phone, name + birth date). "same-job": the same, plus what the task needs to reach rows
    without an ID number: the last four ID characters (the 身份证后四位 column, else the ID
    number's) compared and blocked on with the name (name + last four), as gonghui does."""
    import duckdb
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    phases: dict[str, float] = {}
    mark = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal mark
        now = time.perf_counter()
        phases[name] = round(now - mark, 2)
        mark = now

    con = duckdb.connect(":memory:")
    con.execute(
        f"""
        CREATE TABLE people AS
        SELECT CAST("序号" AS BIGINT) AS unique_id,
               nullif(trim("姓名"), '') AS name,
               nullif(trim("身份证号"), '') AS id_number,
               nullif(trim("手机号"), '') AS phone,
               nullif(trim("出生日期"), '') AS birth_date,
               coalesce(nullif(trim("身份证后四位"), ''), nullif(right(trim("身份证号"), 4), '')) AS id_last4
        FROM read_csv('{path}', header = true, all_varchar = true)
        """
    )
    lap("read")
    db_api = DuckDBAPI(connection=con)
    comparisons = [
        cl.NameComparison("name"),
        cl.ExactMatch("id_number"),
        cl.ExactMatch("phone"),
        cl.DateOfBirthComparison("birth_date", input_is_string=True),
    ]
    blocking = [block_on("id_number"), block_on("phone"), block_on("name", "birth_date")]
    if variant == "same-job":
        comparisons.append(cl.ExactMatch("id_last4"))
        blocking.append(block_on("name", "id_last4"))
    settings = SettingsCreator(
        link_type="dedupe_only", comparisons=comparisons, blocking_rules_to_generate_predictions=blocking
    )
    linker = Linker(db_api.register("people"), settings, log_level="WARNING")
    linker.training.estimate_probability_two_random_records_match([block_on("id_number")], recall=0.7)
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=1)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("id_number"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("phone"))
    lap("train")
    predictions = linker.inference.predict(threshold_match_probability=0.5)
    pairs = con.sql(f"SELECT count(*) FROM {predictions.physical_name}").fetchall()[0][0]
    lap("predict")
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
        predictions, threshold_match_probability=0.95
    )
    people = con.sql(f"SELECT count(DISTINCT cluster_id) FROM {clusters.physical_name}").fetchall()[0][0]
    lap("cluster")
    con.execute(
        f"COPY (SELECT unique_id + 1 AS source_row, cluster_id AS person FROM {clusters.physical_name}) "
        f"TO '{splink_links(path, variant)}' (HEADER)"
    )
    print(json.dumps({"pairs": pairs, "clusters": people, "phases": phases}), flush=True)


def splink_links(path: Path, variant: str) -> Path:
    return path.with_name(f"{path.stem}_splink_{variant}_links.csv")


def splink_run(path: Path, timeout: float | None, variant: str = "tutorial") -> dict:
    wall, peak, code, out, lines = run_measured(
        [PYTHON, __file__, "--splink-worker", str(path), "--splink-variant", variant], timeout=timeout
    )
    result = {"seconds": wall, "peak_mb": peak, "exit": code}
    if code != 0:
        tail = "\n".join(line for _t, line in lines[-15:])
        print(f"  splink exited {code} after {wall:.1f} s\n{tail}", flush=True)
        return result
    result.update(json.loads(out.strip().splitlines()[-1]))
    result["accuracy"] = pairwise_f1(truth_of(path), splink_links(path, variant), "source_row", "person")
    return result


# --- accuracy against the truth (not timed) ------------------------------------------------------


def pairwise_f1(truth_path: Path, links_path: Path, row_col: str, person_col: str) -> dict:
    """Pairwise precision, recall and F1 of a row -> person assignment against the truth.

    A row without a person (rejected) is its own group."""
    import polars as pl

    truth = pl.read_csv(truth_path, schema_overrides={"source_row": pl.Int64, "true_person": pl.Int64})
    links = pl.read_csv(links_path, infer_schema_length=0).select(
        pl.col(row_col).cast(pl.Int64).alias("source_row"), pl.col(person_col).alias("person")
    )
    joined = truth.join(links, on="source_row", how="left").with_columns(
        pl.when(pl.col("person").is_null() | (pl.col("person") == ""))
        .then(pl.lit("row") + pl.col("source_row").cast(pl.Utf8))
        .otherwise(pl.col("person").cast(pl.Utf8))
        .alias("person")
    )

    def pairs(*keys: str) -> int:
        n = joined.group_by(list(keys)).len()["len"]
        return int((n * (n - 1) // 2).sum())

    both, predicted, true = pairs("person", "true_person"), pairs("person"), pairs("true_person")
    precision = both / predicted if predicted else 1.0
    recall = both / true if true else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


# --- the report -----------------------------------------------------------------------------------


def f1_text(run: dict) -> str:
    a = run.get("accuracy")
    if not a:
        return ""
    return f"pairwise P {a['precision']:.4f} R {a['recall']:.4f} F1 {a['f1']:.4f}"


def growth(results: list[dict], i: int, key: str) -> str:
    if i == 0 or key not in results[i] or key not in results[i - 1]:
        return "–"
    now, before = results[i], results[i - 1]
    if now[key]["exit"] != 0 or before[key]["exit"] != 0:
        return "–"
    ratio = (now[key]["seconds"] / before[key]["seconds"]) / (now["size"] / before["size"])
    return f"{ratio:.2f}"


def table(results: list[dict], splink_key: str = "splink") -> str:
    head = (
        "| rows | gonghui s | gonghui rows/s | gonghui peak MB | growth | "
        "Splink s | Splink rows/s | Splink peak MB | Splink growth | throughput ratio | gonghui F1 | Splink F1 |\n"
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    )
    lines = [head]
    for i, r in enumerate(results):
        g = r["gonghui"]
        ok = g["exit"] == 0
        cells = [
            f"{r['size']:,}",
            f"{g['seconds']:.1f}" + ("" if ok else f" (exit {g['exit']})"),
            f"{r['size'] / g['seconds']:,.0f}" if ok else "–",
            f"{g['peak_mb']:,.0f}",
            growth(results, i, "gonghui"),
        ]
        s = r.get(splink_key)
        if s:
            sok = s["exit"] == 0
            cells += [
                f"{s['seconds']:.1f}" + ("" if sok else f" (exit {s['exit']})"),
                f"{r['size'] / s['seconds']:,.0f}" if sok else "–",
                f"{s['peak_mb']:,.0f}",
                growth(results, i, splink_key),
                f"{s['seconds'] / g['seconds']:.2f}" if ok and sok else "–",
            ]
        else:
            cells += ["–"] * 5
        for run in (g, s or {}):
            a = run.get("accuracy")
            cells.append(f"{a['f1']:.4f}" if a else "–")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--skip-splink", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the last benchmark database")
    parser.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--timeout", type=float, default=None, help="kill a run after this many seconds")
    parser.add_argument("--json", default=None, help="also write the results to this JSON file")
    parser.add_argument(
        "--splink-variants",
        default=",".join(SPLINK_VARIANTS),
        help="plain Splink runs beside gonghui: tutorial (the tutorials' blocking) and/or same-job "
        "(also name + last four ID characters, so rows without an ID number can meet)",
    )
    parser.add_argument("--splink-worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--splink-variant", default="tutorial", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.splink_worker:
        splink_worker(Path(args.splink_worker), args.splink_variant)
        return
    variants = [v for v in args.splink_variants.split(",") if v.strip()]
    if unknown := set(variants) - set(SPLINK_VARIANTS):
        parser.error(f"unknown Splink variants: {', '.join(sorted(unknown))}")

    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; cores: {os.cpu_count()}")
    results: list[dict] = []
    try:
        for size in sizes:
            path = census_csv(size, args.seed)
            result: dict = {"size": size, "load_at_start": os.getloadavg()[0]}
            g = result["gonghui"] = gonghui_run(size, path, args.pg_url, args.timeout)
            stages = ", ".join(f"{k} {v:.1f}" for k, v in g["stages"].items())
            print(
                f"{size:>9} rows  gonghui {g['seconds']:7.1f} s  {size / g['seconds']:9,.0f} rows/s  "
                f"peak {g['peak_mb']:7,.0f} MB  [{stages}]  {g['summary']}  {f1_text(g)}",
                flush=True,
            )
            for variant in [] if args.skip_splink else variants:
                key = "splink" if variant == "tutorial" else f"splink {variant}"
                s = result[key] = splink_run(path, args.timeout, variant)
                print(
                    f"{size:>9} rows  splink {variant:<9} {s['seconds']:7.1f} s  {size / s['seconds']:9,.0f} rows/s  "
                    f"peak {s['peak_mb']:7,.0f} MB  {s.get('phases', '')} pairs {s.get('pairs')} "
                    f"clusters {s.get('clusters')}  {f1_text(s)}",
                    flush=True,
                )
            results.append(result)
            if args.json:
                Path(args.json).write_text(json.dumps(results, indent=2), encoding="utf-8")
    finally:
        if not args.keep:
            drop_database(args.pg_url)
    print()
    print(table(results))
    if any("splink same-job" in r for r in results):
        print()
        print(table(results, splink_key="splink same-job"))


if __name__ == "__main__":
    main()
