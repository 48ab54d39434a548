"""User-facing errors: the CLI prints these as one clean message (a traceback only with --debug)."""


class UserError(Exception):
    """Bad input the user can fix: the message names the file/line/flag and what to do."""


class DataError(UserError):
    """A dataset problem: message names the file, record and field."""
