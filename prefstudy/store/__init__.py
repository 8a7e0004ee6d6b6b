"""DuckDB storage: schema migrations, short-lived connections with lock retry, and table access."""

from prefstudy.store.connection import (
    connect,
    first_row,
    memory_connection,
    memory_cursor,
    registered_columns,
    registered_rows,
    scalar,
    sql_path,
    transaction,
)
from prefstudy.store.integrity import DamagedDatabase

__all__ = [
    "DamagedDatabase",
    "connect",
    "first_row",
    "memory_connection",
    "memory_cursor",
    "registered_columns",
    "registered_rows",
    "scalar",
    "sql_path",
    "transaction",
]
