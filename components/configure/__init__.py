"""The `configure` component (see component.py and README.md)."""
