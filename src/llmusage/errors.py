"""The one exception type that the CLI turns into a single clear line and a non-zero exit."""


class LlmusageError(Exception):
    """An expected failure with a message meant for the user (bad input, unreachable server, ...)."""

    exit_code: int = 1
