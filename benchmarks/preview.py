"""Preview cost: a 50,000-row job's preview against the job's own validation, same data, same process.

For each kind, on the data and file of that kind's own benchmark (benchmarks/removal.py,
unenrolment.py, license_import.py and award.py seed it, set-based), in a fresh process:

    validate  ``bulk.services.submit(kind, file)`` without start: read, parse, validate, stage (a Draft)
    preview   ``bulk.preview.preview_job(job)``: every row that would succeed checked again by the
              kind's validation, counts per outcome, target and org unit, the first rows' before and after
    changes   the whole "changes" CSV, streamed (``changes_csv_rows`` through ``csv_stream``)

The target is preview ≤ 1.5x validate. The award file names 50,000 of the Award Users benchmark's
branch users for CERT-0001 (2,500 of whom hold it already: Skipped), with an issue date.

    .venv/bin/python benchmarks/preview.py [--repeat 3] [--only sqlite|postgresql] [--kinds removal,…]

The last lines, one per database and kind, are the figures to compare between runs.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from harness import PG_ADMIN_URL, django_setup, drop_postgres, postgres_reachable, report, run_child

BENCH_DIR = Path(tempfile.gettempdir()) / "certdesk-bench-preview"
PG_BENCH_DB = "certdesk_bench_preview"
KINDS = {
    "removal": "certification-removal",
    "unenrolment": "unenrolment",
    "license-import": "license-import",
    "award": "certification-award",
}
ROWS = 50_000


def seed_and_file(kind: str, path: str) -> dict:
    """Seed the kind's benchmark data and write its 50,000-row file to ``path``."""
    sys.path.insert(0, str(Path(__file__).parent))
    began = time.perf_counter()
    if kind == "removal":
        import removal

        removal.seed(200_000, 100_000)
        made = removal.build_file(ROWS, path)
    elif kind == "unenrolment":
        import unenrolment

        unenrolment.seed(100_000, 200, 1_000_000)
        made = unenrolment.build_file(ROWS, path)
    elif kind == "license-import":
        import license_import

        license_import.BENCH_DIR = Path(path).parent
        license_import.seed(100_000)
        made = license_import.build_files(ROWS, 100_000)
        Path(path).write_bytes((Path(path).parent / license_import.FORMATS["csv"][0]).read_bytes())
    else:
        import award

        award.seed(200_000)
        made = award_file(path)
    return {**made, "seconds": time.perf_counter() - began}


def award_file(path: str) -> dict:
    from base.sql import fetch, table
    from people.models import OrgUnit, User

    branch = OrgUnit.objects.get(code="BR-A")
    units = [branch.pk]
    frontier = [branch.pk]
    while frontier:
        frontier = list(OrgUnit.objects.filter(parent_id__in=frontier).values_list("pk", flat=True))
        units += frontier
    marks = ",".join(map(str, units))
    keys = [
        key
        for (key,) in fetch(
            f"SELECT DISTINCT u.user_id FROM {table(User)} u JOIN {table(User.org_units.through)} m "
            f"ON m.user_id = u.id WHERE m.orgunit_id IN ({marks}) ORDER BY u.user_id",
            [],
        )
    ][:ROWS]
    header = "Certification ID,User ID,Issue date,Expiration date,Always valid,Association type,External activity\n"
    text = header + "".join(f"CERT-0001,{key},2026-12-01,,,,\n" for key in keys)
    Path(path).write_text(text, encoding="utf-8")
    return {"rows": len(keys), "bytes": len(text.encode())}


def measure(kind: str, path: str) -> dict:
    import resource

    from django.conf import settings
    from django.contrib.auth import get_user_model

    from base.downloads import csv_stream
    from bulk import services
    from bulk.models import Job
    from bulk.preview import changes_csv_rows, changes_header, preview_job
    from bulk.registry import get_kind

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    actor = get_user_model().objects.get(username="bench-admin")
    Job.objects.all().delete()
    data = Path(path).read_bytes()
    t0 = time.perf_counter()
    job = services.submit(KINDS[kind], data, Path(path).name, actor=actor, title="Preview benchmark").job
    t1 = time.perf_counter()
    preview = preview_job(job)
    t2 = time.perf_counter()
    size = sum(len(chunk) for chunk in csv_stream(changes_header(get_kind(job.kind)), changes_csv_rows(job)))
    t3 = time.perf_counter()
    staged = job.outcome_counts()
    assert preview.outcomes == {o: staged[o] for o in preview.outcomes}, (preview.outcomes, staged)
    return {
        "validate_s": t1 - t0,
        "preview_s": t2 - t1,
        "changes_s": t3 - t2,
        "changes_bytes": size,
        "rows": job.total,
        "changing": preview.changing,
        "units": len(preview.units),
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def child(args: argparse.Namespace) -> None:
    django_setup()
    if args.step == "seed":
        report(seed_and_file(args.kind, args.file))
    else:
        report(measure(args.kind, args.file))


def bench(name: str, database_url: str, kind: str, args: argparse.Namespace) -> str:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "CERTDESK_VAR_DIR": str(BENCH_DIR),
        "MEDIA_ROOT": str(BENCH_DIR / f"media-{name}"),
        "CERTDESK_RUNNER": "none",
        "LOG_LEVEL": "WARNING",
    }
    path = str(BENCH_DIR / f"{kind}.csv")
    options = ["--kind", kind, "--file", path]
    seeded = run_child(__file__, "seed", options, env)
    print(f"[{name} {kind}] seeded in {seeded['seconds']:.1f} s; file of {seeded['rows']:,} rows", flush=True)
    runs = []
    for attempt in range(args.repeat):
        r = run_child(__file__, "measure", options, env)
        runs.append(r)
        print(
            f"[{name} {kind}] run {attempt + 1}: validate {r['validate_s']:.3f} s, preview {r['preview_s']:.3f} s, "
            f"changes file {r['changes_s']:.3f} s ({r['changes_bytes'] / 1e6:.1f} MB), peak {r['peak_mb']:.0f} MB",
            flush=True,
        )
    validate = min(r["validate_s"] for r in runs)
    preview = min(r["preview_s"] for r in runs)
    changes = min(r["changes_s"] for r in runs)
    ratio = preview / validate
    last = runs[-1]
    return (
        f"preview {name} {kind}: {preview:.2f} s for {last['rows']:,} rows ({last['changing']:,} would change, "
        f"{last['units']} org units) = {ratio:.2f}x its validation ({validate:.2f} s); changes file "
        f"{changes:.2f} s; peak {max(r['peak_mb'] for r in runs):.0f} MB (best of {args.repeat})  "
        f"[target ≤ 1.5x: {'MET' if ratio <= 1.5 else 'MISSED'}]"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    parser.add_argument("--kinds", default=",".join(KINDS))
    parser.add_argument("--step", help=argparse.SUPPRESS)
    parser.add_argument("--kind", help=argparse.SUPPRESS)
    parser.add_argument("--file", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        child(args)
        return
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    lines = []
    for kind in args.kinds.split(","):
        if args.only in (None, "sqlite"):
            db = BENCH_DIR / f"bench-{kind}.sqlite3"
            for suffix in ("", "-wal", "-shm"):
                Path(f"{db}{suffix}").unlink(missing_ok=True)
            lines.append(bench("sqlite", f"sqlite:///{db}", kind, args))
        database = f"{PG_BENCH_DB}_{kind.replace('-', '_')}"
        if args.only in (None, "postgresql") and postgres_reachable(database):
            base = PG_ADMIN_URL.rsplit("/", 1)[0]
            lines.append(bench("postgresql", f"{base}/{database}", kind, args))
            drop_postgres(database)
    print()
    for line in lines:
        print(line)


if __name__ == "__main__":
    main()
