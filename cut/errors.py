"""User-facing errors: the CLI prints these as one line and exits 2, without a traceback."""


class CutError(Exception):
    """A failure caused by the user's input or environment, with a message saying what to fix."""
