"""Tests package (importable helpers: `tests.<path>.<module>`)."""
