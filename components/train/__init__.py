"""The `train` component (see component.py and README.md)."""
