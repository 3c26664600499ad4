"""Exceptions that carry a one-line message meant for the user."""


class UserError(Exception):
    """Bad input from the user: the message names the value and what is accepted.

    The CLI prints ``simwarden: <message>`` on one line, without a traceback, and exits non-zero.
    """
