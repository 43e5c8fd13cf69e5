"""Storage with secure defaults: the ledger table, the notification marker table and the shared
table defaults (table.py), and the archive bucket (bucket.py)."""

from constructs.storage.bucket import ABORT_INCOMPLETE_UPLOADS_DAYS, TRANSITION_CLASSES, ArchiveBucket
from constructs.storage.table import LEDGER_GSIS, TTL_ATTRIBUTE, LedgerTable, MarkerTable, encrypted_table

__all__ = [
    "ABORT_INCOMPLETE_UPLOADS_DAYS", "LEDGER_GSIS", "TRANSITION_CLASSES", "TTL_ATTRIBUTE", "ArchiveBucket",
    "LedgerTable", "MarkerTable", "encrypted_table",
]
