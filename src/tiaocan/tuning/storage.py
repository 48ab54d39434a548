"""Study storage: a SQLite file by default (embedded, resumable), or any SQLAlchemy URL (postgresql://...) so
workers on several machines join one study. Heartbeats mark a killed worker's trial as failed and the retry
callback puts the same parameters back in the queue. Passwords never appear in messages.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ..errors import UserError

HEARTBEAT_S = 30  # a running trial writes a heartbeat this often
GRACE_S = 120  # a trial silent this long is stale: failed, then retried
MAX_RETRY = 2


def redact(url: str) -> str:
    """The URL with its password replaced by ***, however malformed the URL is."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 — a URL sqlalchemy cannot parse still must not leak its password
        return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)


def _scrub(text: str, url: str) -> str:
    """Remove the password from a driver's error message (some echo the connection string)."""
    try:
        from sqlalchemy.engine import make_url

        pw = make_url(url).password
    except Exception:  # noqa: BLE001
        pw = None
    if pw:
        text = text.replace(str(pw), "***")
    return re.sub(r"(://[^:/@\s]*:)[^@\s]*@", r"\1***@", text)


def default_url(output_dir: str | Path) -> str:
    return f"sqlite:///{Path(output_dir).resolve() / 'tune.db'}"


def retry_callback(max_retry: int = MAX_RETRY):
    """optuna >= 4.9 names it RetryHeartbeatStaleTrialCallback; older releases RetryFailedTrialCallback."""
    import warnings

    from optuna import storages

    cls = getattr(storages, "RetryHeartbeatStaleTrialCallback", None) or storages.RetryFailedTrialCallback
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "experimental" since optuna 2.8
        return cls(max_retry=max_retry)


def with_driver(url: str) -> str:
    """`postgresql://` with an installed driver: SQLAlchemy 2.1 defaults to psycopg 3, older releases (and our
    `postgres` extra) to psycopg2, so pick whichever of the two is importable."""
    import importlib.util

    if not url.startswith(("postgresql://", "postgres://")):
        return url
    rest = url.split("://", 1)[1]
    for module, dialect in (("psycopg", "postgresql+psycopg"), ("psycopg2", "postgresql+psycopg2")):
        if importlib.util.find_spec(module) is not None:
            return f"{dialect}://{rest}"
    return url


def open_storage(url: str, *, heartbeat_s: int = HEARTBEAT_S, grace_s: int = GRACE_S):
    """An optuna RDBStorage with heartbeats and retry; a UserError (password hidden) when it cannot be opened."""
    import warnings

    import optuna
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    shown = redact(url)
    url = with_driver(url)
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        raise UserError(f"--storage {shown}: not a database URL. Use sqlite:///path/tune.db or "
                        "postgresql://user:password@host:5432/dbname") from None
    engine_kwargs: dict[str, Any] = {}
    if parsed.get_backend_name() == "sqlite":
        db = parsed.database
        if db and db != ":memory:":
            Path(db).parent.mkdir(parents=True, exist_ok=True)
        engine_kwargs["connect_args"] = {"timeout": 60}  # several local workers share one file
    else:
        engine_kwargs["pool_pre_ping"] = True  # survive a database restart between trials
        if parsed.get_backend_name() == "postgresql":
            engine_kwargs["connect_args"] = {"connect_timeout": 10}
    kwargs: dict[str, Any] = dict(engine_kwargs=engine_kwargs, heartbeat_interval=heartbeat_s, grace_period=grace_s)
    stale_kw = ("heartbeat_stale_trial_callback"
                if "heartbeat_stale_trial_callback" in optuna.storages.RDBStorage.__init__.__code__.co_varnames
                else "failed_trial_callback")
    kwargs[stale_kw] = retry_callback()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # heartbeat_interval is "experimental" in optuna
            return optuna.storages.RDBStorage(url, **kwargs)
    except ImportError as e:
        driver = parsed.get_backend_name()
        hint = "pip install psycopg2-binary (or tiaocan[postgres])" if driver == "postgresql" else f"install the {driver} driver"
        raise UserError(f"--storage {shown}: no database driver for {driver} ({e}); {hint}") from None
    except Exception as e:  # noqa: BLE001 — connection refused, bad password, unknown database, ...
        first = _scrub(str(getattr(e, "orig", None) or e), url).strip().splitlines()
        why = first[0] if first else type(e).__name__
        raise UserError(f"--storage {shown}: could not open the study database: {why}. Check the host, port, user, "
                        "password and that the database exists (PostgreSQL: createdb NAME).") from None
