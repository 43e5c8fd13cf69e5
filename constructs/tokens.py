"""Small helpers the constructs share.

- Validation skips unresolved tokens (a value known only at apply time cannot be checked at
  synth): `is_token` / `is_literal`. Strings carry `${TfToken[...]}` and numeric tokens are floats,
  so most values are told apart in Python without a jsii round trip.
- The handlers' shared package (`lambda_src/layer/paycore`) holds definitions the infrastructure
  must use verbatim (the API Gateway request template, pipe filters and templates, request
  schemas): `PAYCORE_ROOT` is put on `sys.path` once, here, so constructs import them directly.
"""

from __future__ import annotations

import sys
from pathlib import Path

from cdktf import Token

PAYCORE_ROOT = Path(__file__).resolve().parent.parent / "lambda_src" / "layer"
if str(PAYCORE_ROOT) not in sys.path:
    sys.path.insert(0, str(PAYCORE_ROOT))


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
