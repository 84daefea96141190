"""Evaluation: framework-neutral metrics (`metrics.py`) and the evaluate step (`evaluate.py`)."""
