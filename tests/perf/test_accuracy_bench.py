"""bench/accuracy.py: the reference column beside each framework's test accuracy, targets as pass/miss.

    .venv/bin/python -m pytest tests/perf/test_accuracy_bench.py -q

The table tests run in milliseconds; the dry run (`--dry-run` on a 3-class text TSV given with
--text-tsv: the real ingest/validate/reference/train/evaluate processes, 1 epoch) takes ~45 s on 2 cores,
nearly all of it process start-up, so it is marked slow. No accuracy is asserted: figures come from
`make bench-accuracy`.
"""

from __future__ import annotations

import random
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEADER = ["task", "framework", "test", "acc", "reference", "epochs", "train", "s", "target"]
NUMBER = r"\d+\.\d{4}"


@pytest.fixture(scope="module")
def accuracy(repo_root):
    sys.path.insert(0, str(repo_root / "bench"))
    try:
        import accuracy
        yield accuracy
    finally:
        sys.path.remove(str(repo_root / "bench"))


def test_the_table_has_a_reference_column_and_a_fixed_target_is_pass_or_miss(accuracy):
    # Given Fashion-MNIST rows on either side of its 0.91 target, the reference below both
    lines = accuracy.table([("fashion", "tensorflow", 0.915, 0.84, 10, 300.0),
                            ("fashion", "pytorch", 0.905, 0.84, 10, 290.0)])
    # Then the header names the reference column, each row prints it, and the bar is 0.91, not the reference
    assert lines[0].split() == HEADER
    assert lines[1].split() == ["fashion", "tensorflow", "0.9150", "0.8400", "10", "300.0", ">=", "0.91",
                                "pass"]
    assert lines[2].split() == ["fashion", "pytorch", "0.9050", "0.8400", "10", "290.0", ">=", "0.91",
                                "miss"]


@pytest.mark.parametrize("task", ["reviews", "reviews-transformer", "text-tsv"])
def test_a_reference_target_is_read_from_the_reference_column(accuracy, task):
    # Given one framework above the reference and one below, on a task whose target is the reference
    lines = accuracy.table([(task, "tensorflow", 0.78, 0.77, 6, 40.0),
                            (task, "pytorch", 0.76, 0.77, 6, 41.0)])
    # Then the bar is the row's reference accuracy, not a fixed figure (equal counts as reaching it)
    assert lines[1].split()[-4:] == [">=", "ref", "0.7700", "pass"]
    assert lines[2].split()[-4:] == [">=", "ref", "0.7700", "miss"]
    assert accuracy.table([(task, "pytorch", 0.77, 0.77, 6, 41.0)])[1].endswith(">= ref 0.7700 pass")
    # And a task without a target prints its numbers and no verdict
    no_target = accuracy.table([("other", "pytorch", 0.5, 0.6, 1, 1.0)])[1]
    assert no_target.split()[-4:] == ["0.5000", "0.6000", "1", "1.0"]


def _tsv(path: Path) -> Path:
    """240 short texts of 3 topics, each with its own words among shared ones."""
    rng = random.Random(0)
    topics = {"sport": "goal match team score league coach".split(),
              "tech": "software chip cloud code device data".split(),
              "food": "recipe taste sauce bake dinner spice".split()}
    common = "the a of and today news report people week".split()
    lines = ["text\tlabel"]
    for i in range(240):
        topic = list(topics)[i % 3]
        words = rng.choices(topics[topic], k=5) + rng.choices(common, k=5)
        rng.shuffle(words)
        lines.append(f"{' '.join(words)}\t{topic}")
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.slow
def test_the_dry_run_prints_the_reference_beside_both_frameworks_with_their_targets(tmp_path):
    # Given a multi-class text TSV, when the script runs in its smallest mode on it alone
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "accuracy.py"), "--dry-run", "--tasks", "text-tsv",
         "--text-tsv", str(_tsv(tmp_path / "topics.tsv"))],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    # Then the table has the reference column and one row per framework with numbers in it
    header = next(i for i, line in enumerate(lines) if line.startswith("task "))
    assert lines[header].split() == HEADER
    rows = [line.split() for line in lines[header + 1:header + 3]]
    assert [row[:2] for row in rows] == [["text-tsv", "tensorflow"], ["text-tsv", "pytorch"]]
    for row in rows:
        assert re.fullmatch(NUMBER, row[2]) and re.fullmatch(NUMBER, row[3]), row
        # And the target is the reference column's number, passed exactly when the accuracy reaches it
        assert row[-4:-1] == [">=", "ref", row[3]], row
        assert row[-1] == ("pass" if float(row[2]) >= float(row[3]) else "miss"), row
    assert lines[header + 3].startswith("text-tsv: TF - PT gap ")
