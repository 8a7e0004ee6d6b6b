"""DuckDB storage: schema migrations, short-lived connections with lock retry, and table access."""

from prefstudy.store.connection import connect, first_row, scalar, sql_path, transaction

__all__ = ["connect", "first_row", "scalar", "sql_path", "transaction"]
