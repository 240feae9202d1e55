"""The one exception users see: a clear, one-line message instead of a traceback."""


class RestoreLabError(Exception):
    """Bad input or configuration; ``str(err)`` is a complete one-line message for the user."""
