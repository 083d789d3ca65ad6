"""The one exception type for mistakes a user can fix."""


class LlmkitError(Exception):
    """Bad input: a missing path, a bad recipe key, an unusable dataset.

    The message says what is wrong and what to do. The CLI prints it on one line and exits 2;
    `--debug` shows the traceback.
    """


def first_line(error: BaseException) -> str:
    """The first line of an exception's message (or its type name when it has none), for one-line errors."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


class RunInterrupted(Exception):
    """A run stopped early on request (Ctrl-C) after saving what it could.

    The message says what was kept and how to continue. The CLI prints it on one line and exits 130, the
    code of a process ended by SIGINT.
    """
