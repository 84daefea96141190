"""The `register` component (see component.py and README.md)."""
