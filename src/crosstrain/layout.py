"""Where each step reads and writes, relative to the project root.

dvc.yaml declares the same paths as stage deps and outs; tests/test_dvc_yaml.py checks they agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Layout:
    """The on-disk layout of a crosstrain project rooted at `root`."""

    root: Path = Path(".")

    def prepared(self, task: str) -> Path:
        """Prepared splits (Parquet) and meta.json of a task: the output of ingest."""
        return self.root / "data" / "prepared" / task

    def validation(self, task: str) -> Path:
        """Great Expectations result and Data Docs of a task: the output of validate."""
        return self.root / "reports" / "validation" / task

    def model(self, task: str, framework: str) -> Path:
        """A trained model in its framework's native format, plus train.json and history.json."""
        return self.root / "models" / task / framework

    def checkpoints(self, task: str, framework: str) -> Path:
        """Per-epoch training checkpoints, one `seed-<s>/` each (a persistent DVC output of train)."""
        return self.root / "checkpoints" / task / framework

    def metrics(self, task: str, framework: str) -> Path:
        """Test metrics of one model: a DVC metrics file."""
        return self.root / "metrics" / task / f"{framework}.json"

    def plots(self, task: str, framework: str) -> Path:
        """Per-epoch curves and the confusion matrix of one model: DVC plots."""
        return self.root / "plots" / task / framework

    def reference(self, task: str) -> Path:
        """The task's classical reference (scikit-learn) scored on the same test split: a DVC metrics file."""
        return self.root / "metrics" / task / "reference.json"

    def modes(self, task: str, framework: str) -> Path:
        """Timed short trainings of one framework in every execution mode (`crosstrain measure`)."""
        return self.root / "metrics" / task / "modes" / f"{framework}.json"

    def speed(self, task: str) -> Path:
        """Both frameworks timed alternately in fresh processes (`crosstrain speed`).

        The data the speed verdicts are drawn from.
        """
        return self.root / "metrics" / task / "speed.json"

    def onnx(self, task: str, framework: str) -> Path:
        """ONNX export of the first seed's model, its parity check and ONNX Runtime latency."""
        return self.root / "metrics" / task / "onnx" / f"{framework}.json"

    def curves(self, task: str, framework: str) -> Path:
        """Validation curves averaged over seeds (DVC plots), written by the report."""
        return self.root / "reports" / "curves" / task / f"{framework}.csv"

    def report(self, suffix: str) -> Path:
        """The comparison report: `html` (self-contained), `md`, and `json` (the numbers behind both)."""
        return self.root / "reports" / f"comparison.{suffix}"

    def registry(self, task: str) -> Path:
        """What register did for a task: versions, aliases, the champion."""
        return self.root / "metrics" / task / "registry.json"
