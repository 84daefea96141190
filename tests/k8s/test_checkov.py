"""checkov over every rendered kustomization and every Dockerfile: no failed check, and every skip says why.

checkov lives in its own venv, .venv-tools (its pins would fight mlflow's and kfp's): `make test` builds
it, or `make .venv-tools/.installed`; `make scan` prints the same scan for people. A check that does not
apply is skipped in the object itself, with its reason: a `checkov.io/skipN: CKV_K8S_xx=reason`
annotation, or a `# checkov:skip=CKV_DOCKER_x:reason` line in the Dockerfile.

.venv/bin/python -m pytest tests/k8s/test_checkov.py -q
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # checkov starts up slowly, and needs make .venv-tools/.installed
ROOT = Path(__file__).resolve().parents[2]
CHECKOV = ROOT / ".venv-tools" / "bin" / "checkov"
KUSTOMIZATIONS = ["base", "overlays/local", "overlays/gpu", "trainer"]
DOCKERFILES = sorted((ROOT / "docker").glob("*.Dockerfile"))
NO_REASON = "No comment provided"  # what checkov records for a skip without a reason


def pinned_version() -> str:
    return re.search(r"^CHECKOV_VERSION := (\S+)$", (ROOT / "k8s" / "tools.mk").read_text(), re.M)[1]


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> dict[str, dict]:
    """One checkov run (its start-up is the slow part) over all rendered kustomizations and Dockerfiles."""
    if not CHECKOV.exists():
        pytest.fail(f"{CHECKOV.relative_to(ROOT)} is missing: run `make .venv-tools/.installed`")
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl (kustomize) not installed")
    out = tmp_path_factory.mktemp("rendered")
    for name in KUSTOMIZATIONS:
        rendered = subprocess.run(
            ["kubectl", "kustomize", str(ROOT / "k8s" / name)], capture_output=True, text=True, timeout=60
        )
        assert rendered.returncode == 0, rendered.stderr
        (out / f"{name.replace('/', '-')}.yaml").write_text(rendered.stdout)
    files = [arg for f in [*sorted(out.glob("*.yaml")), *DOCKERFILES] for arg in ("-f", str(f))]
    options = ["--framework", "kubernetes", "dockerfile", "--output", "json", "--skip-download"]
    scan = subprocess.run(
        [str(CHECKOV), *files, *options], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert scan.returncode in (0, 1), scan.stderr  # 1: some check failed, reported below
    data = json.loads(scan.stdout)
    return {report["check_type"]: report for report in (data if isinstance(data, list) else [data])}


def records(reports: dict[str, dict], kind: str) -> list[dict]:
    return [r for report in reports.values() for r in report["results"][kind]]


def describe(record: dict) -> str:
    return f"{record['check_id']} {record['resource']} ({Path(record['file_abs_path']).name})"


def test_runs_the_pinned_checkov_over_every_file(reports):
    assert set(reports) == {"kubernetes", "dockerfile"}
    for report in reports.values():
        assert report["summary"]["checkov_version"] == pinned_version(), "run `make .venv-tools/.installed`"
        assert report["summary"]["parsing_errors"] == 0, report["results"]["parsing_errors"]
    scanned = {Path(r["file_abs_path"]).name for r in records(reports, "passed_checks")}
    expected = {f"{name.replace('/', '-')}.yaml" for name in KUSTOMIZATIONS} | {f.name for f in DOCKERFILES}
    assert scanned == expected


def test_no_check_fails(reports):
    failed = sorted(describe(r) + f": {r['check_name']}" for r in records(reports, "failed_checks"))
    assert not failed, "fix these, or skip in the object with a reason:\n" + "\n".join(failed)


def test_every_skip_gives_its_reason(reports):
    skipped = records(reports, "skipped_checks")
    assert skipped  # the known exceptions (image digests, pull policy, HEALTHCHECK) are on record
    for record in skipped:
        reason = (record["check_result"].get("suppress_comment") or "").strip()
        assert len(reason) >= 20 and reason != NO_REASON, describe(record)
