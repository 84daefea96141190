"""The comparison report: every step's artefacts, turned into numbers with intervals, plots and verdicts.

    crosstrain report          # reports/comparison.html|md|json, reports/curves/, the MLflow parent run

collect (artefacts) -> summarize (intervals) -> verdict -> plots -> html / markdown -> build (write, track).
"""
