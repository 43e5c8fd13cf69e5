"""The body of ``POST /transactions/{id}/notify``: the templates a caller may ask for and the
e-mail pattern. Pure constants (no AWS client), so the API's request model is built from the same
definition the handler validates with (``paycore.notification``)."""
from __future__ import annotations

import re

TEMPLATES = ("receipt", "refund", "reminder")
EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@"
    r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
