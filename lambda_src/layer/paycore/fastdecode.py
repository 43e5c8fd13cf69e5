"""``json.loads`` and strict base64 for the processor's per-message path, at orjson's and pybase64's speed.

Every value and every error is the standard library's. orjson and pybase64 answer only where their
answer is the stdlib's; whatever they reject goes to ``json.loads`` / ``binascii.a2b_base64(...,
strict_mode=True)``, which decides (pybase64 rejects more than strict mode, e.g. ``"AAAA="``, and
never accepts more or decodes otherwise). Input orjson would read differently goes to ``json.loads``
directly:

* integers outside [-2**63, 2**64), which orjson returns as floats: any run of 19 digits
  (:func:`loads`) or any float in orjson's result (:func:`loads_few_values`);
* deep nesting: orjson parses 1,024 levels, ``json.loads`` raises ``RecursionError`` at the
  interpreter's recursion limit less the caller's stack (from 996 levels at a script's top level,
  limit 1,000). Below :data:`MAX_FAST_NESTING` levels both parse, unless the caller is some 740
  frames deep;
* NaN/Infinity, lone surrogates, a BOM, UTF-16/32 bytes, invalid UTF-8: orjson rejects them.

Where the accelerators cannot load (the layer's arm64 build on another machine, as in
``scripts/bench/cold_init.py``), the stdlib alone runs; :data:`ACCELERATED` tells which.
"""
from __future__ import annotations

import binascii
import json
from typing import Any

try:
    import orjson
except ImportError:  # the layer's arm64 build on another machine
    orjson = None  # type: ignore[assignment]
try:
    # the C extension only: pybase64's pure-Python fallback is slower than binascii
    from pybase64._pybase64 import b64decode as _pybase64_decode
except ImportError:
    _pybase64_decode = None  # type: ignore[assignment]

ACCELERATED = orjson is not None and _pybase64_decode is not None

#: Fewer ``[``/``{`` (:func:`loads`) or nesting levels (:func:`loads_few_values`) than this go to
#: orjson: ``json.loads`` parses that deep from any caller less than ~740 frames deep.
MAX_FAST_NESTING = 256
_DIGITS = bytes.maketrans(b"0123456789", b"0" * 10)  # digits -> "0", every other byte as it is
_LONG_DIGIT_RUN = b"0" * 19  # 10**18 <= a 19-digit integer: the shortest that may leave orjson's range
# 19 consecutive bytes hold 3 consecutive multiples of 6: a run of 19 digits puts 3 digits in a row
# into raw[::6], which is a sixth of the bytes to map
_SAMPLE_STEP, _SAMPLED_RUN = 6, b"000"
_FEW_ARRAYS = 8


def loads(data: str | bytes) -> Any:
    """``json.loads(data)``: same value, same error. orjson unless a run of 19 digits or 256
    ``[``/``{`` is anywhere in ``data`` (checks the bytes, not the result: suits documents of many
    small values, e.g. a webhook body)."""
    if orjson is not None:
        if type(data) is str:
            try:
                raw = data.encode()
            except UnicodeEncodeError:  # a lone surrogate: json.loads reads it, orjson does not
                return json.loads(data)
        elif type(data) is bytes:
            raw = data
        else:
            return json.loads(data)
        if _orjson_reads_as_json(raw):
            try:
                return orjson.loads(raw)
            except orjson.JSONDecodeError:
                pass  # json.loads decides: its value or its error
    return json.loads(data)


def _orjson_reads_as_json(raw: bytes) -> bool:
    """No run of 19 digits and fewer than MAX_FAST_NESTING ``[``/``{`` in ``raw``."""
    if _SAMPLED_RUN in raw[::_SAMPLE_STEP].translate(_DIGITS) and _LONG_DIGIT_RUN in raw.translate(_DIGITS):
        return False
    openers = raw.count(b"{")
    # a body has few arrays: jumping from "[" to "[" (memchr) costs less than counting every byte
    at = raw.find(b"[")
    for _ in range(_FEW_ARRAYS):
        if at < 0:
            break
        openers += 1
        at = raw.find(b"[", at + 1)
    else:
        if at >= 0:
            openers += raw.count(b"[", at)
    return openers < MAX_FAST_NESTING


def loads_few_values(data: str | bytes) -> Any:
    """``json.loads(data)``, checking orjson's result (no float, nesting under 256) instead of
    every byte: suits documents of few values in many bytes (the envelope: 8 values in 4 KB,
    most of them one base64 string)."""
    if orjson is not None and (type(data) is str or type(data) is bytes):
        try:
            value = orjson.loads(data)
        except orjson.JSONDecodeError:
            return json.loads(data)
        kind = type(value)
        if kind is dict or kind is list:
            if _plain(value, 1):
                return value
        elif kind is not float:
            return value
    return json.loads(data)


def _plain(container: dict | list, depth: int) -> bool:
    """No float under ``container`` and no nesting from ``depth`` down to MAX_FAST_NESTING."""
    if depth >= MAX_FAST_NESTING:
        return False
    for item in container.values() if type(container) is dict else container:
        kind = type(item)
        if kind is float or ((kind is dict or kind is list) and not _plain(item, depth + 1)):
            return False
    return True


def b64decode_strict(text: str) -> bytes:
    """``binascii.a2b_base64(text, strict_mode=True)``: same bytes, same error (``binascii.Error``,
    or ``ValueError`` for a non-ASCII str)."""
    if _pybase64_decode is not None and type(text) is str:
        try:
            return _pybase64_decode(text, validate=True)
        except ValueError:  # binascii.Error is one: strict mode decides
            pass
    return binascii.a2b_base64(text, strict_mode=True)
