"""Kubeflow Pipelines components, one folder per step; each wraps one `crosstrain.kfp_support.steps` function.

    from components import ingest, validate, reference, train, measure, speed, evaluate, export, register
    from components import gather, report

Component bodies import crosstrain inside the function: a lightweight component ships only its own
source, and the crosstrain image (its `base_image`) provides the package.
"""

from components.configure.component import configure
from components.evaluate.component import evaluate
from components.export.component import export
from components.ingest.component import ingest
from components.measure.component import measure
from components.reference.component import reference
from components.register.component import register
from components.report.component import gather, report
from components.speed.component import speed
from components.train.component import train
from components.validate.component import validate

__all__ = [
    "configure",
    "ingest",
    "validate",
    "reference",
    "train",
    "measure",
    "speed",
    "evaluate",
    "export",
    "register",
    "gather",
    "report",
]
