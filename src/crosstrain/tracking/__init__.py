"""Tracking: one MLflow service (`service.py`) and the model registry step (`registry.py`)."""
