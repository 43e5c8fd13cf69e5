"""DynamoDB tables with the project's secure defaults: `encrypted_table` (the defaults in one
place), `LedgerTable` (the payment ledger) and `MarkerTable` (short-lived claim markers)."""

from __future__ import annotations

import re
from typing import Mapping, Sequence

from cdktf import Token
from cdktf_cdktf_provider_aws.dynamodb_table import (
    DynamodbTable,
    DynamodbTableAttribute,
    DynamodbTableGlobalSecondaryIndex,
    DynamodbTablePointInTimeRecovery,
    DynamodbTableServerSideEncryption,
    DynamodbTableTtl,
)
from constructs import Construct

from constructs.core.limits import DYNAMODB_PROJECTION_TYPES

# The ledger's global secondary indexes (lambda_src/README.md): name -> (hash key, range key).
# Sparse: only state rows carry vendor_key / customer_key.
LEDGER_GSIS = {"by-vendor": ("vendor_key", "created_at"), "by-customer": ("customer_key", "created_at")}
TTL_ATTRIBUTE = "expires_at"
_TABLE_NAME = re.compile(r"^[A-Za-z0-9_.-]{3,255}$")


def encrypted_table(
    scope: Construct,
    id_: str,
    *,
    name: str,
    hash_key: str,
    range_key: str,
    kms_key_arn: str,
    indexes: Mapping[str, tuple[str, str]] | None = None,
    index_projection_type: str = "KEYS_ONLY",
    index_non_key_attributes: Sequence[str] = (),
    attribute_order: str = "sorted",
    stream_view_type: str | None = None,
    point_in_time_recovery_enabled: bool = True,
    deletion_protection_enabled: bool = False,
) -> DynamodbTable:
    """The project's table defaults in one place: on demand, string keys, SSE with the given
    customer-managed key, point-in-time recovery, TTL on ``expires_at``; ``indexes`` (name ->
    (hash key, range key)) with one projection; a stream only with ``stream_view_type``.
    ``attribute_order`` "sorted" lists the key attributes sorted, "keys" as hash, range (the
    order is part of the synthesized JSON, so each table keeps the one it was deployed with)."""
    indexes = dict(indexes or {})
    names = [hash_key, range_key] + [k for pair in indexes.values() for k in pair]
    attributes = sorted(set(names)) if attribute_order == "sorted" else list(dict.fromkeys(names))
    return DynamodbTable(
        scope,
        id_,
        name=name,
        billing_mode="PAY_PER_REQUEST",
        hash_key=hash_key,
        range_key=range_key,
        attribute=[DynamodbTableAttribute(name=attribute, type="S") for attribute in attributes],
        global_secondary_index=[
            DynamodbTableGlobalSecondaryIndex(name=index, hash_key=index_hash, range_key=index_range,
                                              projection_type=index_projection_type,
                                              non_key_attributes=list(index_non_key_attributes) or None)
            for index, (index_hash, index_range) in indexes.items()
        ] or None,
        point_in_time_recovery=DynamodbTablePointInTimeRecovery(enabled=point_in_time_recovery_enabled),
        server_side_encryption=DynamodbTableServerSideEncryption(enabled=True, kms_key_arn=kms_key_arn),
        stream_enabled=True if stream_view_type else None,
        stream_view_type=stream_view_type,
        ttl=DynamodbTableTtl(attribute_name=TTL_ATTRIBUTE, enabled=True),
        deletion_protection_enabled=deletion_protection_enabled,
    )


class LedgerTable(Construct):
    """The payment ledger: `self.table` (DynamodbTable).

    pk `transaction_id` (S), sk `timestamp` (S); on demand; point-in-time recovery; SSE with the
    given customer-managed key; stream NEW_IMAGE (the pipes read it); TTL on `expires_at` (marker
    rows); GSIs `by-vendor` and `by-customer` (range key `created_at`).

    GSI projection (`index_projection_type`): the indexes are sparse (only the one state row per
    transaction carries `vendor_key`/`customer_key`). ALL and INCLUDE rewrite both index entries on
    every status change; KEYS_ONLY writes them once (the keys never change) and the reader fetches
    the listed state rows (BatchGetItem).

    Args:
      table_name: 3..255 characters of [A-Za-z0-9_.-]; required.
      kms_key_arn: the dynamodb data-class key; required.
      deletion_protection_enabled: default False (everything destroyable outside prod); True in prod.
      point_in_time_recovery_enabled: default True; keep it on (audit ledger).
      index_projection_type: ALL (default), INCLUDE or KEYS_ONLY; index_non_key_attributes: the
        attributes INCLUDE projects (required with INCLUDE, at most 100).
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        table_name: str,
        kms_key_arn: str,
        deletion_protection_enabled: bool = False,
        point_in_time_recovery_enabled: bool = True,
        index_projection_type: str = "ALL",
        index_non_key_attributes: Sequence[str] = (),
    ):
        super().__init__(scope, id_)
        problems = []
        if index_projection_type not in DYNAMODB_PROJECTION_TYPES:
            problems.append(f"index_projection_type must be {', '.join(DYNAMODB_PROJECTION_TYPES[:-1])} or "
                            f"{DYNAMODB_PROJECTION_TYPES[-1]}, got {index_projection_type!r}")
        if (index_projection_type == "INCLUDE") != bool(index_non_key_attributes) or len(index_non_key_attributes) > 100:
            problems.append(f"index_non_key_attributes: 1..100 names with INCLUDE, none otherwise; got "
                            f"{list(index_non_key_attributes)} with {index_projection_type}")
        if not Token.is_unresolved(table_name) and not _TABLE_NAME.match(table_name):
            problems.append(f"table_name must be 3..255 characters of [A-Za-z0-9_.-], got {table_name!r}")
        if not Token.is_unresolved(kms_key_arn) and not str(kms_key_arn).startswith("arn:"):
            problems.append(f"kms_key_arn must be a KMS key ARN (the dynamodb key), got {kms_key_arn!r}")
        if problems:
            raise ValueError("LedgerTable: " + "; ".join(problems))

        self.table = encrypted_table(
            self, "table", name=table_name, hash_key="transaction_id", range_key="timestamp",
            kms_key_arn=kms_key_arn, indexes=LEDGER_GSIS, index_projection_type=index_projection_type,
            index_non_key_attributes=index_non_key_attributes, stream_view_type="NEW_IMAGE",
            point_in_time_recovery_enabled=point_in_time_recovery_enabled,
            deletion_protection_enabled=deletion_protection_enabled,
        )


class MarkerTable(Construct):
    """A small table of short-lived claim markers (at-most-once side effects): `self.table`.

    pk `partition_key_name` (S), sk `sort_key_name` (S); on demand; point-in-time recovery; SSE
    with the given customer-managed key; TTL on `expires_at`; no stream, no indexes.

    Args:
      table_name: 3..255 characters of [A-Za-z0-9_.-]; required.
      kms_key_arn: the dynamodb data-class key; required.
      partition_key_name / sort_key_name: default `transaction_id` / `marker`.
      deletion_protection_enabled: default False (everything destroyable outside prod).
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        table_name: str,
        kms_key_arn: str,
        partition_key_name: str = "transaction_id",
        sort_key_name: str = "marker",
        deletion_protection_enabled: bool = False,
    ):
        super().__init__(scope, id_)
        problems = []
        if not Token.is_unresolved(table_name) and not _TABLE_NAME.match(table_name):
            problems.append(f"table_name must be 3..255 characters of [A-Za-z0-9_.-], got {table_name!r}")
        if not Token.is_unresolved(kms_key_arn) and not str(kms_key_arn).startswith("arn:"):
            problems.append(f"kms_key_arn must be a KMS key ARN (the dynamodb key), got {kms_key_arn!r}")
        if partition_key_name == sort_key_name:
            problems.append(f"sort_key_name must differ from partition_key_name, both are {sort_key_name!r}")
        if problems:
            raise ValueError("MarkerTable: " + "; ".join(problems))
        self.table = encrypted_table(
            self, "table", name=table_name, hash_key=partition_key_name, range_key=sort_key_name,
            kms_key_arn=kms_key_arn, attribute_order="keys", deletion_protection_enabled=deletion_protection_enabled,
        )
