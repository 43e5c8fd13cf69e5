"""`Configuration`: the platform's configuration in SSM Parameter Store and its secrets in Secrets
Manager.

The same values go to the Lambdas as environment variables (`lambda_environment`), so a function
never needs an SSM call at cold start and an operator reads the same values in one place.
Secrets are created empty: their values are set after deploy by `python -m scripts.ops secrets` and never
pass through Terraform (or its state).
"""

from __future__ import annotations

import re
from typing import Mapping, Sequence

from cdktf import Token
from cdktf_cdktf_provider_aws.secretsmanager_secret import SecretsmanagerSecret
from cdktf_cdktf_provider_aws.ssm_parameter import SsmParameter
from constructs import Construct

from constructs.core.limits import SECRETS_RECOVERY_WINDOW_DAYS

SERVICE_NAME = "payment-webhooks"
METRICS_NAMESPACE = "PaymentWebhooks"
SECRET_KINDS = {"signing": "signing", "gate_key": "gate-key"}  # attribute key -> name suffix
CURSOR_KEY_SECRET = "query/cursor-key"  # after the prefix (paycore.cursor.CURSOR_KEY_SECRET)
# Names the construct derives, and names the runtime must never receive from the stack
# (PAYPAL_TRUST_STORE swaps the processor's bundled CA roots for a test CA: tests only).
DERIVED_NAMES = ("SECRET_PREFIX", "ENABLED_PROVIDERS", "POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE",
                 "POWERTOOLS_LOG_LEVEL")
FORBIDDEN_NAMES = ("PAYPAL_TRUST_STORE",)
_PROVIDER = re.compile(r"^[a-z][a-z0-9]{1,31}$")


class Configuration(Construct):
    """SSM parameters and Secrets Manager secrets.

    Attributes: `self.parameters` (environment variable name -> SsmParameter), `self.secrets`
    (provider -> {"signing": SecretsmanagerSecret, "gate_key": SecretsmanagerSecret}),
    `self.cursor_key_secret` (the query API's cursor key), `self.internal_key_secret` (the HMAC key
    of internal envelopes, or None),
    `self.lambda_environment` (environment variable name -> value: the same values as the
    parameters, plus the Powertools settings), `self.secret_prefix`.

    Parameters are `{parameter_prefix}{name}` with name the variable in kebab case, e.g.
    `/payments/dev/table-name`. Secrets are `{secret_prefix}{provider}/signing` and
    `.../gate-key`, and `{secret_prefix}query/cursor-key` (lambda_src/README.md).

    Args:
      environment: the environment, in descriptions; required.
      parameter_prefix / secret_prefix: what every parameter's / secret's name starts with, ending
        in '/'; required.
      values: environment variable name -> value (table name, queue URLs/ARNs, bucket, topic ARN,
        bus name, ...); required, names in UPPER_SNAKE_CASE; values may be tokens.
      providers: the enabled webhook providers (lower-case ids); at least one.
      provider_secrets: provider -> the secrets it declares ("signing", "gate-key"); default both
        for every provider.
      secrets_kms_key_arn: the secrets data-class key; required.
      recovery_window_in_days: 0 (delete at once; default outside prod) or 7..30 (30 in prod).
      log_level: the functions' POWERTOOLS_LOG_LEVEL; default INFO.
      internal_key_secret_name: the full name of the secret holding the HMAC key of the envelopes
        the platform itself enqueues (created empty, like the others); default None (none).
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        environment: str,
        parameter_prefix: str,
        secret_prefix: str,
        values: Mapping[str, str],
        providers: Sequence[str],
        secrets_kms_key_arn: str,
        provider_secrets: Mapping[str, Sequence[str]] | None = None,
        recovery_window_in_days: int = 30,
        log_level: str = "INFO",
        internal_key_secret_name: str | None = None,
    ):
        super().__init__(scope, id_)
        problems = []
        if not Token.is_unresolved(recovery_window_in_days) and not (
            recovery_window_in_days == 0 or recovery_window_in_days in SECRETS_RECOVERY_WINDOW_DAYS
        ):
            problems.append(
                f"recovery_window_in_days must be 0 (delete at once) or {SECRETS_RECOVERY_WINDOW_DAYS}, "
                f"got {recovery_window_in_days}"
            )
        for label, prefix in (("parameter_prefix", parameter_prefix), ("secret_prefix", secret_prefix)):
            if not prefix.endswith("/"):
                problems.append(f"{label} must end with '/', got {prefix!r}")
        if internal_key_secret_name is not None and not internal_key_secret_name.startswith(secret_prefix):
            problems.append(f"internal_key_secret_name must start with secret_prefix {secret_prefix!r}, "
                            f"got {internal_key_secret_name!r}")
        if not providers:
            problems.append("providers must name at least one webhook provider, got none")
        for provider in providers:
            if not _PROVIDER.match(provider):
                problems.append(f"providers: a provider id must match {_PROVIDER.pattern}, got {provider!r}")
        for provider, names in (provider_secrets or {}).items():
            unknown = sorted(set(names) - set(SECRET_KINDS.values()))
            if provider not in providers or unknown:
                problems.append(f"provider_secrets: {provider!r} must be one of the providers, with secrets among "
                                f"{sorted(SECRET_KINDS.values())}, got {sorted(names)}")
        for name in values:
            if not re.match(r"^[A-Z][A-Z0-9_]*$", name):
                problems.append(f"values: names must be UPPER_SNAKE_CASE environment variables, got {name!r}")
        reserved = set(DERIVED_NAMES) & set(values)
        if reserved:
            problems.append(f"values must not set {sorted(reserved)}: the construct derives them")
        forbidden = set(FORBIDDEN_NAMES) & set(values)
        if forbidden:
            problems.append(f"values must not set {sorted(forbidden)}: a deployed function never gets it "
                            "(the processor trusts only its bundled CA roots)")
        if problems:
            raise ValueError("Configuration: " + "; ".join(problems))

        self.secret_prefix = secret_prefix
        settings = dict(values)
        settings["SECRET_PREFIX"] = self.secret_prefix
        settings["ENABLED_PROVIDERS"] = ",".join(providers)

        self.parameters: dict[str, SsmParameter] = {}
        for name, value in sorted(settings.items()):
            kebab = name.lower().replace("_", "-")
            self.parameters[name] = SsmParameter(
                self, f"parameter-{kebab}", name=f"{parameter_prefix}{kebab}", type="String",
                value=value, tier="Standard", description=f"payments {environment}: {name} (also a Lambda env var)",
            )

        self.secrets: dict[str, dict[str, SecretsmanagerSecret]] = {}
        declared = provider_secrets or {}
        for provider in providers:
            wanted = declared.get(provider, SECRET_KINDS.values())
            self.secrets[provider] = {
                kind: SecretsmanagerSecret(
                    self, f"secret-{provider}-{suffix}", name=f"{self.secret_prefix}{provider}/{suffix}",
                    description=f"{provider} webhook {suffix.replace('-', ' ')} ({environment}); "
                                "value set by python -m scripts.ops secrets",
                    kms_key_id=secrets_kms_key_arn, recovery_window_in_days=recovery_window_in_days,
                )
                for kind, suffix in SECRET_KINDS.items() if suffix in wanted
            }
        # The reader's pagination HMAC key; its value is set by `python -m scripts.ops secrets
        # --cursor-key generate`, never in Terraform (so it stays out of the state).
        self.cursor_key_secret = SecretsmanagerSecret(
            self, "secret-query-cursor-key", name=f"{self.secret_prefix}{CURSOR_KEY_SECRET}",
            description=f"query API cursor key ({environment}); value set by python -m scripts.ops "
                        "secrets --cursor-key generate",
            kms_key_id=secrets_kms_key_arn, recovery_window_in_days=recovery_window_in_days,
        )

        # The HMAC key of the platform's own envelopes (direct payments); its value is generated by
        # `python -m scripts.ops secrets --internal-key generate`, never in Terraform.
        self.internal_key_secret: SecretsmanagerSecret | None = None
        if internal_key_secret_name is not None:
            self.internal_key_secret = SecretsmanagerSecret(
                self, "secret-internal-envelope-key", name=internal_key_secret_name,
                description=f"internal envelope HMAC key ({environment}): the validator signs direct payments, the "
                            "processor verifies them; value set by python -m scripts.ops secrets --internal-key generate",
                kms_key_id=secrets_kms_key_arn, recovery_window_in_days=recovery_window_in_days,
            )

        self.lambda_environment: dict[str, str] = dict(settings)
        self.lambda_environment["POWERTOOLS_SERVICE_NAME"] = SERVICE_NAME
        self.lambda_environment["POWERTOOLS_METRICS_NAMESPACE"] = METRICS_NAMESPACE
        self.lambda_environment["POWERTOOLS_LOG_LEVEL"] = log_level

    def secret_arns(self, kind: str) -> list[str]:
        """ARNs of every provider's secret of one kind ("signing" or "gate_key")."""
        return [by_kind[kind].arn for _, by_kind in sorted(self.secrets.items()) if kind in by_kind]
