"""The local cloud's exception root."""

__all__ = ["LocalCloudError", "ProgramError"]


class LocalCloudError(Exception):
    """The local cloud could not start or do what it was asked."""


class ProgramError(LocalCloudError):
    """The Pulumi program failed under the mock runtime (bad config, a bug in the program)."""
