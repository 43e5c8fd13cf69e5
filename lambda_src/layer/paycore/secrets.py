"""Secrets Manager reads with an in-memory TTL cache (Powertools ``SecretsProvider``).

Names (lambda_src/README.md, "Secrets"): ``{SECRET_PREFIX}{provider}/signing``,
``{SECRET_PREFIX}{provider}/gate-key`` and ``{SECRET_PREFIX}internal/envelope-key``, JSON ``{"current": "...", "previous": "..."}`` (PayPal's
signing secret: ``{"webhook_id": "...", "previous_webhook_id": "..."}``). Values are cached for
``max_age`` seconds (default 300) per execution environment, so a rotation is picked up within
that time while the previous value keeps working. One read at a time per store: threads that
miss the cache together (the processor's message groups) wait for one GetSecretValue, not one each.
"""
from __future__ import annotations

import threading
import weakref
from typing import Any

from aws_lambda_powertools.utilities.parameters import SecretsProvider
from aws_lambda_powertools.utilities.parameters.exceptions import TransformParameterError

from paycore.model import MisconfiguredSecret

DEFAULT_MAX_AGE_SECONDS = 300

_stores: "weakref.WeakSet[SecretStore]" = weakref.WeakSet()


class SecretStore:
    def __init__(self, client: Any, *, prefix: str, max_age: int = DEFAULT_MAX_AGE_SECONDS):
        self.prefix = prefix
        self.max_age = max_age
        self._provider = SecretsProvider(boto3_client=client)
        self._lock = threading.Lock()
        _stores.add(self)

    def get_json(self, name: str) -> dict[str, Any]:
        """The secret's JSON object. A value that is not a JSON object is our misconfiguration
        (:class:`MisconfiguredSecret`, retried); Secrets Manager being unreachable is transient too."""
        try:
            with self._lock:  # a cache hit takes microseconds; a miss is fetched once for every waiter
                value = self._provider.get(name, transform="json", max_age=self.max_age)
        except TransformParameterError as exc:
            raise MisconfiguredSecret(f"secret {name} is not JSON") from exc
        if not isinstance(value, dict):
            raise MisconfiguredSecret(f"secret {name} is not a JSON object")
        return value

    def signing(self, provider: str) -> dict[str, Any]:
        return self.get_json(f"{self.prefix}{provider}/signing")

    def internal_key(self) -> dict[str, Any]:
        """The internal envelope key (paycore.internal_envelope): ``{"current", "previous"}``."""
        from paycore.internal_envelope import KEY_SECRET

        return self.get_json(f"{self.prefix}{KEY_SECRET}")

    def gate_keys(self, provider: str) -> list[str]:
        """Current and previous gate keys of ``provider`` (non-empty strings only)."""
        value = self.get_json(f"{self.prefix}{provider}/gate-key")
        return [v for v in (value.get("current"), value.get("previous")) if isinstance(v, str) and v]

    def clear(self) -> None:
        self._provider.clear_cache()


def clear_all_caches() -> None:
    """Forget every cached secret of every store (tests; a forced rotation)."""
    for store in list(_stores):
        store.clear()
