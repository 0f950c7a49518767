"""Storage: runs, generations and individuals behind the narrow :class:`RunStorage` interface."""

from evonas.storage.base import RunStorage
from evonas.storage.records import GenerationRecord, IndividualRecord, RunInfo
from evonas.storage.schema import head_revision
from evonas.storage.sql import DEFAULT_DB_URL, SQLStorage, normalise_db_url

__all__ = [
    "DEFAULT_DB_URL",
    "GenerationRecord",
    "IndividualRecord",
    "RunInfo",
    "RunStorage",
    "SQLStorage",
    "head_revision",
    "normalise_db_url",
]
