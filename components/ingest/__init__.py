"""The `ingest` component (see component.py and README.md)."""
