"""The `crosstrain` command line: thin doors onto the library's step functions."""
