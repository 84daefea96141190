"""Two frameworks' fairness records, field by field: the audit table and the differences.

Records are compared seed by seed (seed s gives both frameworks the same initial weights and batch
order). A field that differs in any seed makes the comparison unfair, unless it is a named
exception below: a difference inherent to the libraries, small, and said in the report. An
exception is never silent: its row carries the reason, and a field not listed here may not differ.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from crosstrain.models.exceptions import KNOWN_DIFFERENCES

# Fields in which the frameworks legitimately differ, and why it does not matter (or how much).
EXCEPTIONS: dict[str, str] = {
    **KNOWN_DIFFERENCES,  # the models' own (crosstrain.models.exceptions): stock blocks that differ slightly
    "compile.scope": (
        "compiled mode: XLA compiles TensorFlow's whole step (forward, backward and Adam); torch.compile "
        "compiles the model (forward and backward) and PyTorch's optimiser step stays eager"),
    # Each framework's wheel bundles the CUDA and cuDNN it was built with; what must match (the device,
    # its name, TF32 and precision) is compared field by field.
    "device.cuda_build": "each framework's wheel brings the CUDA it was built with (same GPU and driver)",
    "device.cudnn_build": "each framework's wheel brings the cuDNN it was built with (same GPU and driver)",
}


def _shown(value: Any) -> str:
    """A value as the audit table and the error line show it (digests shortened)."""
    if isinstance(value, str):
        return value[:12] if len(value) == 64 and all(c in "0123456789abcdef" for c in value) else value
    return json.dumps(value)


def _by_seed(records: Sequence[Mapping[str, Any]]) -> dict[int, Mapping[str, Any]]:
    return {int(r["about"]["seed"]): r["fields"] for r in records}


def audit(task: str, records: Mapping[str, Sequence[Mapping[str, Any]]],
          compared: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The fairness audit of `task`: `records` maps each framework to its seeds' records.

    `compared` names the fields that are the dimension being compared (e.g. `precision.compute` in
    a mixed-vs-fp32 comparison): they may differ and are shown as such. Returns
    {"fair", "seeds", "rows": [{"field", <framework>: shown value, "same", "exception"}], "differences"}.
    """
    frameworks = list(records)
    per_seed = {fw: _by_seed(records[fw]) for fw in frameworks}
    seeds = sorted(set.intersection(*(set(s) for s in per_seed.values()))) if per_seed else []
    missing = [f"unfair comparison: {task}: {fw} has no fairness record for seed {seed}"
               for fw in frameworks for seed in sorted(set().union(*per_seed.values()) - set(per_seed[fw]))]
    fields = sorted(set().union(*(f for fw in frameworks for f in per_seed[fw].values())))
    rows, differences = [], list(missing)
    for field in fields:
        shown_seed = seeds[0] if seeds else None
        same = True
        for seed in seeds:
            values = [per_seed[fw][seed].get(field, "(not recorded)") for fw in frameworks]
            if any(v != values[0] for v in values[1:]):
                same, shown_seed = False, seed
                break
        row: dict[str, Any] = {"field": field, "same": same, "exception": None}
        for fw in frameworks:
            row[fw] = ("" if shown_seed is None
                       else _shown(per_seed[fw][shown_seed].get(field, "(not recorded)")))
        if not same:
            if field in EXCEPTIONS:
                row["exception"] = EXCEPTIONS[field]
            elif field in compared:
                row["exception"] = "the dimension being compared"
            else:
                where = f" (seed {shown_seed})" if len(seeds) > 1 else ""
                shown = ", ".join(f"{fw} {row[fw]}" for fw in frameworks)
                differences.append(f"unfair comparison: {task}: {field} differs{where}: {shown}")
        rows.append(row)
    return {"fair": not differences, "seeds": seeds, "rows": rows, "differences": differences}


def differences(task: str, records: Mapping[str, Sequence[Mapping[str, Any]]],
                compared: frozenset[str] = frozenset()) -> list[str]:
    """The lines `crosstrain report` prints for an unfair comparison (empty when fair)."""
    return audit(task, records, compared)["differences"]


def records_of(metrics: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The seeds' fairness records in an evaluate metrics file (`runs[i]["fairness"]`)."""
    return [run["fairness"] for run in metrics.get("runs", []) if run.get("fairness")]
