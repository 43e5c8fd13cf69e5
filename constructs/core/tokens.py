"""Small helpers the constructs share.

- Validation skips unresolved tokens (a value known only at apply time cannot be checked at
  synth): `is_token` / `is_literal`. Strings carry `${TfToken[...]}` and numeric tokens are floats,
  so most values are told apart in Python without a jsii round trip.
"""

from __future__ import annotations

from cdktf import Token


def is_token(value: object) -> bool:
    """An unresolved token (only a string containing `${` or a float can be one)."""
    if isinstance(value, str):
        return "${" in value and Token.is_unresolved(value)
    if isinstance(value, float):
        return Token.is_unresolved(value)
    return False


def is_literal(value: object) -> bool:
    """A value that can be validated now: given and not a token."""
    return value is not None and not is_token(value)
