"""Storage: runs, generations and individuals behind the narrow :class:`RunStorage` interface."""

from evonas.storage.base import RunStorage
from evonas.storage.records import GenerationRecord, IndividualRecord, RunInfo
from evonas.storage.schema import head_revision
from evonas.storage.sql import SQLStorage
from evonas.storage.urls import DEFAULT_DB_URL, default_db_url, mask_password, normalise_db_url

__all__ = [
    "DEFAULT_DB_URL",
    "GenerationRecord",
    "IndividualRecord",
    "RunInfo",
    "RunStorage",
    "SQLStorage",
    "default_db_url",
    "head_revision",
    "mask_password",
    "normalise_db_url",
]
