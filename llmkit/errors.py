"""The one exception type for mistakes a user can fix."""


class LlmkitError(Exception):
    """Bad input: a missing path, a bad recipe key, an unusable dataset.

    The message says what is wrong and what to do. The CLI prints it on one line and exits 2;
    `--debug` shows the traceback.
    """
