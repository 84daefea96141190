"""The measure component."""
