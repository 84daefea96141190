"""The speed component."""
