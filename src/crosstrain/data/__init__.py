"""Data: load a source, split it once, and read the prepared splits back (framework-neutral)."""
