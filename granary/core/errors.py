"""Errors a user can act on. Each message names the file, table, row or field, and what to do."""


class GranaryError(Exception):
    """A step failed for a reason the operator should read (bad data, engine down, …)."""


class DataError(GranaryError):
    """The data is wrong: do not retry, fix the extract or the contract."""


class EngineError(GranaryError):
    """An engine (Spark, Postgres, Superset, Airflow) is unreachable or failed: retry may help."""


class QualityGateError(DataError):
    """A Great Expectations suite failed for a bank; the bank's day stops here."""


class TableFailures(DataError):
    """Some tables of a step failed on their data (each message names its table); the others passed."""

    def __init__(self, failures: dict[str, str]) -> None:
        super().__init__("\n".join(failures.values()))
        self.failures = dict(failures)
        self.tables = list(failures)
