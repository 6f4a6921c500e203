"""The SQL databases brainbench keeps (the results store, the study app): a SQLite file by default,
any SQLAlchemy URL (PostgreSQL for teams) the same way."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa

from brainbench.errors import BrainbenchError, StoreUnavailableError

logger = logging.getLogger(__name__)

_SCHEMA_LOCK_KEY = 0x6272_6169_6E62  # "brainb": a fixed PostgreSQL advisory lock id for creating schemas
RECONNECT_S = 30.0  # how long a command waits for a database server that went away (a restart) before it stops
_T = TypeVar("_T")


def utc_now(timespec: str = "seconds") -> str:
    """The time a row is written, as every store records it: UTC, ISO 8601, to the second (or ``timespec``)."""
    return datetime.now(UTC).isoformat(timespec=timespec)


def database_url(location: str | Path) -> str:
    """A database URL from a URL or a file path (a path means SQLite)."""
    text = str(location)
    if "://" in text:
        return text
    return f"sqlite:///{Path(text).expanduser().resolve()}"


def display_url(location: str | Path) -> str:
    """How a database is named in messages and run.json: its URL without the password (a path: its SQLite URL)."""
    url = database_url(location)
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return url


def open_database(
    location: str | Path,
    metadata: sa.MetaData,
    error: Callable[[str], BrainbenchError],
    what: str,
    *,
    create: bool = True,
) -> tuple[sa.Engine, str]:
    """(engine, URL without password) of the database at ``location``, its tables created if missing.

    SQLite runs in WAL mode (readers beside a writer), waits for a busy writer instead of failing,
    and begins every transaction IMMEDIATE; on PostgreSQL one process at a time creates tables.
    ``create=False`` opens only a database that exists, to read it: nothing is created or written.
    Whether it can be reached (and, when creating, written) is checked here, so a mistake shows at once.
    """
    url = database_url(location)
    try:
        shown = sa.engine.make_url(url).render_as_string(hide_password=True)
        # a server's pooled connection is tested before each use: one a server restart closed is replaced
        engine = sa.create_engine(url, **({} if url.startswith("sqlite") else {"pool_pre_ping": True}))
    except (sa.exc.ArgumentError, ImportError) as problem:
        raise error(f"cannot open {what} {url!r}: {problem}") from problem
    if engine.dialect.name == "sqlite":
        path = Path(engine.url.database or ".")
        if not create and not path.is_file():
            raise error(f"no {what} at {path}")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as problem:
            raise error(f"cannot create {what} {path}: {problem.strerror}") from problem
        sa.event.listen(engine, "connect", _sqlite_connect)
        if create:
            sa.event.listen(engine, "begin", _sqlite_begin)
    try:
        with engine.begin() as connection:
            if create and engine.dialect.name == "postgresql":
                connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK_KEY})
            if create:
                metadata.create_all(connection)
                _check_writable(connection)
    except sa.exc.SQLAlchemyError as problem:
        reason = str(problem.orig if isinstance(problem, sa.exc.DBAPIError) and problem.orig else problem).splitlines()[
            0
        ]
        engine.dispose()
        raise error(f"cannot open {what} {shown}: {reason}") from problem
    return engine, shown


def _reason(problem: sa.exc.SQLAlchemyError) -> str:
    """The driver's own first line (no SQL, no parameters, no blobs)."""
    original = problem.orig if isinstance(problem, sa.exc.DBAPIError) and problem.orig is not None else problem
    return (str(original).strip().splitlines() or [type(original).__name__])[0]


def reconnecting(action: Callable[[], _T], engine: sa.Engine, name: str) -> _T:
    """``action()`` (one or more transactions that can run again: brainbench's inserts skip rows already there),
    run again while a database server is out of reach (restarting, failing over) for up to ``RECONNECT_S``
    seconds; then, or at once for SQLite (a local file does not come back by waiting), one line:
    ``StoreUnavailableError``, with the driver's reason and nothing of the statement."""
    deadline, delay = None, 0.1
    while True:
        try:
            return action()
        except (sa.exc.OperationalError, sa.exc.InterfaceError) as problem:
            reason = _reason(problem)
            if engine.dialect.name == "sqlite":
                raise StoreUnavailableError(f"{name}: {reason}") from None
            now = time.monotonic()
            if deadline is None:
                deadline = now + RECONNECT_S
                logger.warning("%s: connection lost (%s); reconnecting (for up to %.0f s)", name, reason, RECONNECT_S)
            if now >= deadline:
                raise StoreUnavailableError(
                    f"{name}: the connection was lost ({reason}) and the server did not answer again within "
                    f"{RECONNECT_S:.0f} s"
                ) from None
            time.sleep(min(delay, deadline - now))
            delay = min(2 * delay, 2.0)


def _check_writable(connection: sa.Connection) -> None:
    """Fail now, not at the first result, when the database cannot be written (a read-only file or server)."""
    if connection.dialect.name == "sqlite":
        version = connection.exec_driver_sql("PRAGMA user_version").scalar()
        connection.exec_driver_sql(f"PRAGMA user_version = {int(version or 0)}")  # a write that changes nothing
    elif (
        connection.dialect.name == "postgresql"
        and connection.exec_driver_sql("SHOW transaction_read_only").scalar() == "on"
    ):
        raise sa.exc.InvalidRequestError("the server is read-only")


def insert_ignoring_existing(engine: sa.Engine, table: sa.Table) -> Any:
    """INSERT that skips rows whose key already exists (SQLite and PostgreSQL; plain INSERT elsewhere)."""
    if engine.dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    elif engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        return sa.insert(table)
    return insert(table).on_conflict_do_nothing()


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Transactions are begun by _sqlite_begin, not by the driver; WAL lets readers run beside a
    # writer; busy_timeout makes a writer wait for another instead of failing.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=60000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    # IMMEDIATE takes the write lock up front, so a transaction never has to upgrade a read lock
    # (which SQLite answers with "database is locked" instead of waiting).
    connection.exec_driver_sql("BEGIN IMMEDIATE")
