"""User-facing errors: the CLI prints these as one clean message (a traceback only with --debug)."""


class UserError(Exception):
    """Bad input the user can fix: the message names the file/line/flag and what to do."""


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C during training, after run_summary.json was written; the message says the step and how to resume.
    Still a KeyboardInterrupt, so code that stops on Ctrl-C (a tuner) keeps doing so."""

    def __init__(self, message: str, step: int = 0):
        super().__init__(message)
        self.step = step


class DataError(UserError):
    """A dataset problem: message names the file, record and field."""
