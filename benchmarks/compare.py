"""Every benchmark here, at a base revision and at this tree, in the same run: the figures side by side.

    .venv/bin/python benchmarks/compare.py --base 0c1064d [--only removal,unenrolment,…] [--rounds 3]
        [--quick] [--repeat N] [--no-baseline] [--logs DIR]

It checks the base revision out into a temporary ``git worktree`` outside the repository (removed
afterwards) and runs, for each benchmark, the base tree's script and this tree's script in turn, base
then current, ``--rounds`` times (ABAB…), each in a process of its own with the same arguments; each
tree's script measures that tree's code. "This tree" is the working tree compare.py is in, uncommitted
changes included.

Both trees run with this virtualenv's Python, from their own directory, with ``PYTHONPATH`` = that
tree. The editable install of certdesk in the virtualenv would still answer any import the tree
cannot (the base tree has no ``base`` package, say, and ``import base`` would quietly load this
tree's), so ``PYTHONPATH`` also holds a ``sitecustomize`` that takes the editable install's finder out
of the import system. Before the first benchmark, a probe in each tree's environment prints where
``bulk`` and ``base`` come from, and the run stops if either tree would import the other's code.

Each process gets a temporary folder of its own tree (``TMPDIR``), so the two trees never share the
benchmarks' files or SQLite databases. The PostgreSQL databases the scripts create (harness.py's
``postgres_reachable``: dropped and created afresh at the start of a script's PostgreSQL part, on the
server at ``BENCH_PG_ADMIN_URL``) have fixed names, one per script, so the two trees' runs of a
script must not overlap, and they never do: the processes run one at a time, and a comparison holds
a lock (``certdesk-bench-compare.lock`` in the temporary folder) while it runs, so a second one waits.
Do not run the benchmark scripts by hand meanwhile. job_list.py and intake_memory.py take their
database differently: job_list.py runs on SQLite, and on PostgreSQL in a database this script makes
for each tree (named after its process id, dropped at the end); intake_memory.py runs once on
SQLite and once with ``--postgres``. PostgreSQL is skipped when it does not answer.

The figures read from each script's output, per database:

    removal, unenrolment, award     end-to-end s, rows/s, peak MB; the per-row ORM loop's rows/s
                                    when it runs (unenrolment also: the learner emails' s)
    license_import                  the same, per format
    job_list                        median and p95 ms, for each of the two administrators
    intake_memory                   per case (kind, format, shape): peak MB and s, and whether the
                                    outcome (verified / refused / …) is the same; the .xlsx parse:
                                    the current reader's s and peak MB, and the hand-written
                                    reader's (the same code in both trees: a control for the noise)

The table at the end gives, per figure, the best of the rounds for each tree (the least time or
memory, the most rows/s), their ratio (current / base) and whether it is within 10%: ratio ≤ 1.10
for times and peak memory, ≥ 0.90 for throughputs. The exit code is 0 whatever the figures are (it
is a measurement, not a test), and when a run fails, which the table shows.

The full mode runs every script with its own defaults (``--repeat`` overrides the engine runs per
database of the scripts that have it; ``--no-baseline`` skips their per-row ORM loops, which take
most of the time at full size). ``--quick`` passes small sizes and ``--no-baseline`` (``--repeat 1``
and one round unless given), for trying the comparison: a few minutes for each benchmark but
intake_memory, whose ``--quick`` still uploads files at the kinds' row limits: four runs of it (two
trees, two databases), each about 2½ minutes by its own account, 15 on a busy 2-core machine. Its figures are a smoke test, not a measurement. ``--logs DIR``
keeps every process's output there.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
LIMIT = 0.10  # issue 11: within 10% of the figure before the change
SIDES = ("base", "current")

# The editable install's finders (``__editable___certdesk_…_finder``) come after the path-based one,
# so a tree on sys.path wins for what it has; what it lacks, they would find in the installed tree.
SITECUSTOMIZE = '''"""Written by benchmarks/compare.py: only the tree on PYTHONPATH answers certdesk's imports."""
import sys

sys.meta_path[:] = [f for f in sys.meta_path if not getattr(f, "__module__", "").startswith("__editable__")]
sys.path_hooks[:] = [h for h in sys.path_hooks if not getattr(h, "__module__", "").startswith("__editable__")]
'''

PROBE = """
import importlib.util, json
base = importlib.util.find_spec("base")
import bulk
print(json.dumps({"bulk": bulk.__file__, "base": base.origin if base else None}))
"""

# --- the figures ----------------------------------------------------------------------------------

TIME, RATE, MEMORY = "time", "rate", "memory"
LOWER_IS_BETTER = {TIME, MEMORY}


@dataclass
class Figure:
    name: str
    value: float
    kind: str  # TIME, RATE or MEMORY
    unit: str
    note: str = ""  # for intake_memory: the case's outcome, compared between the trees


def _num(text: str) -> float:
    return float(text.replace(",", ""))


HEADLINE = re.compile(
    r"^(?P<label>(?:removal|unenrolment|award|license-import) [a-z]+(?: [a-z0-9-]+)?): "
    r"(?P<total>[\d.]+) s end-to-end\b.*?(?P<rate>\d+) rows/s.*?peak (?P<peak>\d+) MB"
)
LOOP = re.compile(r"^\s+per-row ORM loop (?P<db>[a-z]+)(?: csv)?: (?P<rate>\d+) rows/s")
REMOVAL_LOOP = re.compile(r"^\[(?P<db>[a-z]+)\] per-row ORM loop: [\d.]+ s, (?P<rate>[\d,]+) rows/s")
EMAILS = re.compile(r"^\s+learner emails \(not in the timing\): .* in (?P<s>[\d.]+) s")
JOB_LIST = re.compile(
    r"^job list (?P<db>[a-z]+) \((?P<who>[^)]+)\): median (?P<median>[\d.]+) ms, p95 (?P<p95>[\d.]+) ms"
)
INTAKE_CASE = re.compile(
    r"^(?P<kind>[a-z-]+)\s+(?P<fmt>csv|txt|xml|xml-2003|xlsx)\s+(?P<label>.+?)\s+[\d.]+ MB  "
    r"peak\s+(?P<peak>\d+) MB\s+(?P<s>[\d.]+) s   (?P<outcome>.*)$"
)
XLSX_READER = re.compile(
    r"^\s+(?P<who>hand-written reader|current bulk\.formats\.read_xlsx)\b.*?\s(?P<s>[\d.]+) s\s+"
    r"peak\s+(?P<peak>\d+) MB"
)


def engine_figures(out: str) -> list[Figure]:
    """removal, unenrolment, award and license_import: their result lines, per database (and format)."""
    figures, label = [], ""
    for line in out.splitlines():
        if m := HEADLINE.match(line):
            label = m["label"]
            figures += [
                Figure(f"{label} end-to-end", _num(m["total"]), TIME, "s"),
                Figure(f"{label} throughput", _num(m["rate"]), RATE, "rows/s"),
                Figure(f"{label} peak", _num(m["peak"]), MEMORY, "MB"),
            ]
        elif m := LOOP.match(line):  # below its database's result line
            bench = label.split()[0]
            figures.append(Figure(f"{bench} {m['db']} per-row ORM loop", _num(m["rate"]), RATE, "rows/s"))
        elif m := REMOVAL_LOOP.match(line):  # removal.py's, among its progress lines
            figures.append(Figure(f"removal {m['db']} per-row ORM loop", _num(m["rate"]), RATE, "rows/s"))
        elif (m := EMAILS.match(line)) and label:
            figures.append(Figure(f"{label} learner emails", _num(m["s"]), TIME, "s"))
    return figures


def job_list_figures(out: str) -> list[Figure]:
    figures = []
    for line in out.splitlines():
        if m := JOB_LIST.match(line):
            name = f"job list {m['db']} ({m['who']})"
            figures += [
                Figure(f"{name} median", _num(m["median"]), TIME, "ms"),
                Figure(f"{name} p95", _num(m["p95"]), TIME, "ms"),
            ]
    return figures


def intake_figures(database: str) -> Callable[[str], list[Figure]]:
    def parse(out: str) -> list[Figure]:
        figures = []
        for line in out.splitlines():
            if m := INTAKE_CASE.match(line):
                outcome = re.split(r"[:(]", m["outcome"], maxsplit=1)[0].strip()
                name = f"intake {database} {m['kind']} {m['fmt']} {m['label']}"
                figures += [
                    Figure(f"{name} peak", _num(m["peak"]), MEMORY, "MB", outcome),
                    Figure(f"{name} time", _num(m["s"]), TIME, "s", outcome),
                ]
            elif m := XLSX_READER.match(line):
                who = "read_xlsx" if m["who"].startswith("current") else "hand-written reader (control)"
                figures += [
                    Figure(f"intake {database} xlsx parse, {who} time", _num(m["s"]), TIME, "s"),
                    Figure(f"intake {database} xlsx parse, {who} peak", _num(m["peak"]), MEMORY, "MB"),
                ]
        return figures

    return parse


# --- the benchmarks -------------------------------------------------------------------------------


@dataclass
class Benchmark:
    name: str  # as --only takes it: the script's name
    quick: list[str]  # the small sizes of --quick
    parse: Callable[[str], list[Figure]]
    options: list[str] = field(default_factory=list)  # in both modes
    engine_runs: bool = True  # takes --repeat and --no-baseline
    postgres_db: bool = False  # needs a database made for it (job_list.py takes DATABASE_URL)

    @property
    def script(self) -> str:
        return f"{self.name}.py"

    @property
    def title(self) -> str:
        on_postgres = self.postgres_db or "--postgres" in self.options
        return f"{self.name} on PostgreSQL" if on_postgres else self.name


def benchmarks(postgres: bool) -> list[Benchmark]:
    job_list = ["--jobs", "50000", "--requests", "20"]  # 50,000 jobs reach the searched dates
    found = [
        Benchmark("removal", ["--users", "20000", "--awards", "10000", "--rows", "5000"], engine_figures),
        Benchmark(
            "unenrolment",
            ["--users", "10000", "--activities", "20", "--enrolments", "100000", "--rows", "5000"],
            engine_figures,
        ),
        # The org-unit tree needs more than 160,000 users; Branch A is 50,000 of them at any size.
        Benchmark("award", ["--users", "170000"], engine_figures),
        Benchmark("license_import", ["--users", "10000", "--rows", "5000"], engine_figures),
        Benchmark("job_list", job_list, job_list_figures, engine_runs=False),
        Benchmark("intake_memory", ["--quick"], intake_figures("sqlite"), engine_runs=False),
    ]
    if postgres:  # the other scripts measure PostgreSQL themselves, when it answers
        found.insert(
            5, Benchmark("job_list", job_list, job_list_figures, engine_runs=False, postgres_db=True)
        )
        found.append(
            Benchmark(
                "intake_memory",
                ["--quick"],
                intake_figures("postgresql"),
                options=["--postgres"],
                engine_runs=False,
            )
        )
    return found


# --- running them ---------------------------------------------------------------------------------


def git(*args: str, cwd: Path = ROOT) -> str:
    exe = shutil.which("git")
    if exe is None:
        raise SystemExit("compare.py needs git")
    return subprocess.run([exe, *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


@contextmanager
def base_worktree(revision: str, work: Path) -> Iterator[Path]:
    tree = work / "base-tree"
    git("worktree", "add", "--detach", "--quiet", str(tree), revision)
    try:
        yield tree
    finally:
        try:
            git("worktree", "remove", "--force", str(tree))
        except subprocess.CalledProcessError as exc:
            print(f"could not remove the worktree {tree}: {exc.stderr}")
        git("worktree", "prune")


@contextmanager
def exclusive(lock: Path) -> Iterator[None]:
    """One comparison at a time: the scripts' PostgreSQL databases have fixed names."""
    with open(lock, "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"another comparison holds {lock}; waiting for it …", flush=True)
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def postgres_answers() -> bool:
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3):
            return True
    except Exception as exc:
        print(f"PostgreSQL does not answer at {PG_ADMIN_URL} ({exc}): SQLite only.")
        return False


def admin_sql(statement: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3) as conn:
        conn.execute(statement)


@dataclass
class Side:
    name: str  # "base" or "current"
    tree: Path
    env: dict[str, str]
    pg_database: str = ""  # the one made for job_list.py


def make_side(name: str, tree: Path, work: Path, shim: Path) -> Side:
    tmp = work / f"tmp-{name}"
    tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp), "PYTHONPATH": f"{shim}{os.pathsep}{tree}"}
    for inherited in ("DATABASE_URL", "CERTDESK_VAR_DIR", "MEDIA_ROOT", "DJANGO_SETTINGS_MODULE"):
        env.pop(inherited, None)  # each script chooses its own
    return Side(name, tree, env)


def probe(side: Side) -> None:
    """Stop unless the side's processes import that side's tree, and only it."""
    out = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=side.tree, env=side.env, capture_output=True, text=True, check=True
    )
    found = json.loads(out.stdout.strip().splitlines()[-1])
    has_base = (side.tree / "base" / "__init__.py").exists()
    print(f"{side.name:<8} {side.tree}: bulk from {found['bulk']}; base from {found['base']}")
    if not Path(found["bulk"]).is_relative_to(side.tree):
        raise SystemExit(f"the {side.name} tree would import bulk from {found['bulk']}")
    if has_base != bool(found["base"]) or (
        found["base"] and not Path(found["base"]).is_relative_to(side.tree)
    ):
        raise SystemExit(f"the {side.name} tree would import base from {found['base']}")


def run_one(
    bench: Benchmark, side: Side, args: argparse.Namespace, attempt: int, logs: Path
) -> list[Figure] | None:
    script = side.tree / "benchmarks" / bench.script
    options = [*bench.options, *(bench.quick if args.quick else [])]
    if bench.engine_runs:
        if args.repeat is not None:
            options += ["--repeat", str(args.repeat)]
        if args.no_baseline:
            options.append("--no-baseline")
    env = dict(side.env)
    if bench.postgres_db:
        env["DATABASE_URL"] = f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{side.pg_database}"
    print(f"[{bench.title}] round {attempt} {side.name}: {bench.script} {' '.join(options)} …", flush=True)
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, str(script), *options],
        cwd=side.tree,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    seconds = time.perf_counter() - started
    log = logs / f"{bench.title.replace(' ', '-')}-{side.name}-{attempt}.txt"
    log.write_text(done.stdout)
    figures = bench.parse(done.stdout)
    if done.returncode != 0 or not figures:
        why = f"exit code {done.returncode}" if done.returncode else "no figures in its output"
        print(f"    FAILED ({why}) after {seconds:.0f} s; the end of its output:")
        print("    " + "\n    ".join(done.stdout.strip().splitlines()[-15:]), flush=True)
        return None
    print(f"    {len(figures)} figures in {seconds:.0f} s ({load_average()})", flush=True)
    return figures


def load_average() -> str:
    return "load {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


# --- the table ------------------------------------------------------------------------------------


def best(values: list[Figure]) -> Figure:
    pick = min if values[0].kind in LOWER_IS_BETTER else max
    return pick(values, key=lambda f: f.value)


def show(value: Figure | None) -> str:
    if value is None:
        return "—"
    digits = 0 if value.unit in ("rows/s", "MB") else 1 if value.unit == "ms" else 2
    return f"{value.value:,.{digits}f} {value.unit}"


def table(results: dict[str, dict[str, list[Figure]]], failures: list[str]) -> list[str]:
    """results[side][figure name] = that figure in every round."""
    names = list(dict.fromkeys([*results["base"], *results["current"]]))
    rows = [("figure", "before (best)", "after (best)", "ratio", "within 10%")]
    for name in names:
        before = best(results["base"][name]) if name in results["base"] else None
        after = best(results["current"][name]) if name in results["current"] else None
        ratio, verdict = "—", "—"
        if before and after and before.value:
            r = after.value / before.value
            ratio = f"{r:.2f}"
            ok = r <= 1 + LIMIT if before.kind in LOWER_IS_BETTER else r >= 1 - LIMIT
            verdict = "yes" if ok else "NO"
        elif before and after:
            verdict = "(before is 0)"
        else:
            verdict = f"(only {'before' if before else 'after'})"
        outcomes = {f.note for side in SIDES for f in results[side].get(name, []) if f.note}
        if len(outcomes) > 1:
            verdict += f"  outcome differs: {' / '.join(sorted(outcomes))}"
        rows.append((name, show(before), show(after), ratio, verdict))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = [
        f"{row[0]:<{widths[0]}}  {row[1]:>{widths[1]}}  {row[2]:>{widths[2]}}  {row[3]:>{widths[3]}}  {row[4]}"
        for row in rows
    ]
    lines.insert(1, "-" * len(lines[0]))
    lines += [f"FAILED: {failure}" for failure in failures]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="the revision before the change, e.g. 0c1064d")
    parser.add_argument("--only", help="comma-separated benchmark names (default: all)")
    parser.add_argument("--rounds", type=int, help="runs of each tree, alternating (default 3; --quick 1)")
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke test of the comparison")
    parser.add_argument("--repeat", type=int, help="engine runs per database, for the scripts that take it")
    parser.add_argument("--no-baseline", action="store_true", help="skip the scripts' per-row ORM loops")
    parser.add_argument("--logs", type=Path, help="keep every process's output in this folder")
    args = parser.parse_args()
    if args.quick:
        args.no_baseline = True
        args.repeat = 1 if args.repeat is None else args.repeat
    rounds = args.rounds or (1 if args.quick else 3)
    try:
        revision = git("rev-parse", "--verify", "--quiet", f"{args.base}^{{commit}}")
    except subprocess.CalledProcessError:
        parser.error(f"--base {args.base}: not a revision of this repository")
    chosen = benchmarks(postgres_answers())
    names = list(dict.fromkeys(b.name for b in chosen))
    if args.only:
        wanted = [n.strip().removesuffix(".py") for n in args.only.split(",") if n.strip()]
        unknown = set(wanted) - set(names)
        if unknown:
            parser.error(f"--only: unknown {', '.join(sorted(unknown))} (of {', '.join(names)})")
        chosen = [b for b in chosen if b.name in wanted]

    head = git("rev-parse", "--short", "HEAD")
    dirty = " with uncommitted changes" if git("status", "--porcelain", "--untracked-files=no") else ""
    work = Path(tempfile.mkdtemp(prefix="certdesk-compare-"))
    lock = Path(tempfile.gettempdir()) / "certdesk-bench-compare.lock"
    failures: list[str] = []
    results: dict[str, dict[str, list[Figure]]] = {side: {} for side in SIDES}
    started = time.perf_counter()
    try:
        with exclusive(lock), base_worktree(revision, work) as base_tree:
            shim = work / "shim"
            shim.mkdir()
            (shim / "sitecustomize.py").write_text(SITECUSTOMIZE)
            logs = args.logs or work / "logs"
            logs.mkdir(parents=True, exist_ok=True)
            sides = [make_side("base", base_tree, work, shim), make_side("current", ROOT, work, shim)]
            print(
                f"base {args.base} ({revision[:10]}) against the current tree ({head}{dirty}); {rounds} round(s)"
                f"{', quick sizes' if args.quick else ''}; {load_average()} on {os.cpu_count()} CPUs"
            )
            for side in sides:
                probe(side)
            if any(b.postgres_db for b in chosen):
                for side in sides:
                    side.pg_database = f"certdesk_compare_{os.getpid()}_{side.name}"
                    admin_sql(f"DROP DATABASE IF EXISTS {side.pg_database}")
                    admin_sql(f"CREATE DATABASE {side.pg_database}")
            try:
                for bench in chosen:
                    missing = [s.name for s in sides if not (s.tree / "benchmarks" / bench.script).exists()]
                    if missing:
                        failures.append(f"{bench.script}: not in the {' and '.join(missing)} tree")
                        continue
                    for attempt in range(1, rounds + 1):
                        for side in sides:
                            figures = run_one(bench, side, args, attempt, logs)
                            if figures is None:
                                failures.append(f"{bench.title}, {side.name} tree, round {attempt}")
                                continue
                            for f in figures:
                                results[side.name].setdefault(f.name, []).append(f)
            finally:
                for side in sides:
                    if side.pg_database:
                        admin_sql(f"DROP DATABASE IF EXISTS {side.pg_database}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print()
    print(
        f"{args.base} (before) against {head}{dirty} (after), best of {rounds} round(s) each"
        f"{'; quick sizes, a smoke test only' if args.quick else ''}; whole run "
        f"{time.perf_counter() - started:.0f} s; {load_average()}"
    )
    for line in table(results, failures):
        print(line)
    if args.logs:
        print(f"every process's output: {args.logs}")


if __name__ == "__main__":
    main()
