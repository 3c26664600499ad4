"""User errors and the one exit-code table every simwarden entry point uses."""

# A user error (bad option, bad config value, bad input file) exits with this code from every
# entry point: the CLI, the rule scripts, ``python -m``. It is also the warden's own-error code,
# as GNU ``timeout`` uses 125 for its own failures.
EXIT_USER_ERROR = 125
# A check that found what it looked for (``simwarden status --check`` with a run not up to date,
# ``simwarden bench compare`` with a regression).
EXIT_CHECK_FAILED = 1
# The warden's codes for a run it ended (a command that ends by itself keeps its own code, 128+N
# when it died from signal N; a warden that got signal N exits 128+N).
EXIT_CODES: dict[str, int] = {
    "memory": 137,
    "timeout": 124,
    "disk": 121,
    "host_memory": 122,
    "stopped": 123,
    # No progress reported for run_config.stall_timeout / --stall-timeout (the run hangs).
    "stalled": 120,
}
EXIT_NOT_EXECUTABLE = 126
EXIT_NOT_FOUND = 127


class UserError(Exception):
    """Bad input from the user: the message names the value and what is accepted.

    Every entry point prints ``simwarden: <message>`` on one line, without a traceback, and exits
    :data:`EXIT_USER_ERROR`.
    """
