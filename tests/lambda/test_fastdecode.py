"""paycore.fastdecode against the stdlib it stands in for: the same value (repr: types, key order,
float bits) or the same error (type and message) for every input; fixed-seed fuzz of mutated real
envelopes and bodies plus the cases where orjson and pybase64 differ from json and binascii."""
from __future__ import annotations

import binascii
import itertools
import json
import random
import types
from pathlib import Path

import orjson
import pybase64
import pytest

from paycore import fastdecode
from paycore.envelope import build_envelope, parse_envelope
from paycore.model import Rejected
from paycore.providers import stripe

DATA = Path(__file__).resolve().parents[2] / "scripts" / "data"
STRIPE_RAW = (DATA / "stripe_payment_intent_succeeded.json").read_bytes()
PAYPAL_RAW = (DATA / "paypal_capture_completed.json").read_bytes()
SMALL = b'{"id":"evt_1","n":[0,-1,12,2.5,1e2,-0.0,true,false,null],"s":"a\\u00e9\\n\\"b","o":{"k":{}},"z":[]}'
LOADS = (fastdecode.loads, fastdecode.loads_few_values)


def outcome(fn, data):
    """What a caller sees: ("ok", repr of the value) or ("error", exception type, message)."""
    try:
        return ("ok", repr(fn(data)))
    except Exception as error:  # noqa: BLE001 - RecursionError, TypeError, ValueError...: compared
        return ("error", type(error), str(error))


def envelope_json(raw: bytes) -> str:
    return build_envelope(provider="stripe", received_at=1_732_240_000_123, request_id="8f0c2c5e-0d3a-4c1e-9b7e-1f2a3b4c5d6e",
                          source_ip="54.187.174.169",
                          headers={"stripe-signature": stripe.sign("whsec_" + "0" * 32, 1_732_240_000, raw)}, raw=raw).to_json()


def test_the_accelerators_are_what_runs_here():
    """Else every test below compares the stdlib with itself."""
    assert fastdecode.ACCELERATED
    assert fastdecode.orjson is orjson
    assert fastdecode._pybase64_decode is pybase64.b64decode


def test_the_comparison_sees_what_orjson_and_pybase64_do_differently():
    """The raw libraries differ from the stdlib on these; outcome() must tell them apart."""
    assert outcome(orjson.loads, b'{"a":18446744073709551616}') != outcome(json.loads, b'{"a":18446744073709551616}')
    assert outcome(orjson.loads, b"[" * 1000 + b"]" * 1000) != outcome(json.loads, b"[" * 1000 + b"]" * 1000)
    assert outcome(orjson.loads, b'{"a":NaN}') != outcome(json.loads, b'{"a":NaN}')
    assert outcome(orjson.loads, b'1') != outcome(json.loads, b'1.0')
    a2b = lambda s: binascii.a2b_base64(s, strict_mode=True)  # noqa: E731
    assert outcome(lambda s: pybase64.b64decode(s, validate=True), "AAAA=") != outcome(a2b, "AAAA=")


def test_common_input_takes_the_fast_path(monkeypatch):
    """The real bodies and envelopes are parsed and decoded without the stdlib."""
    def refuse(*args, **kwargs):
        raise AssertionError("stdlib called")
    monkeypatch.setattr(fastdecode, "json", types.SimpleNamespace(loads=refuse))
    monkeypatch.setattr(fastdecode, "binascii", types.SimpleNamespace(a2b_base64=refuse))
    envelope = envelope_json(STRIPE_RAW)
    assert fastdecode.loads(STRIPE_RAW)["type"] == "payment_intent.succeeded"
    assert fastdecode.loads(PAYPAL_RAW)["event_type"] == "PAYMENT.CAPTURE.COMPLETED"
    assert fastdecode.loads_few_values(envelope)["provider"] == "stripe"
    assert fastdecode.b64decode_strict(json.loads(envelope)["body_b64"]) == STRIPE_RAW


@pytest.mark.parametrize("data", [
    b'{"a":18446744073709551616}', b'{"a":-9223372036854775809}',
    b"[" * 256 + b"]" * 256, b'{"a":' * 256 + b"1" + b"}" * 256, b'{"a":NaN}', b'{"a":1e400}', b'\xef\xbb\xbf{}',
])
def test_what_orjson_reads_otherwise_goes_to_the_stdlib(monkeypatch, data):
    sentinel = object()
    monkeypatch.setattr(fastdecode, "json", types.SimpleNamespace(loads=lambda d: sentinel))
    for fn in LOADS:
        assert fn(data) is sentinel, fn.__name__


@pytest.mark.parametrize("offset", range(14))
def test_a_19_digit_run_goes_to_the_stdlib_wherever_it_lies(monkeypatch, offset):
    """loads looks at every 6th byte first: a run of 19 digits shows there at any alignment."""
    sentinel = object()
    monkeypatch.setattr(fastdecode, "json", types.SimpleNamespace(loads=lambda d: sentinel))
    padding = b" " * offset
    assert fastdecode.loads(padding + b'{"a":' + b"1" * 19 + b"}") is sentinel
    assert fastdecode.loads(padding + b'["' + b"9" * 19 + b'"]') is sentinel  # in a string too: cheaper than telling
    assert fastdecode.loads(padding + b'{"a":' + b"1" * 18 + b',"b":"' + b"2" * 18 + b'"}') is not sentinel


@pytest.mark.parametrize("arrays", [0, 1, 7, 8, 9, 200, 255, 256, 300])
def test_many_containers_go_to_the_stdlib_however_they_are_counted(monkeypatch, arrays):
    """``{`` are counted, ``[`` found one by one up to a few, then counted: 256 of them in all
    go to the stdlib."""
    sentinel = object()
    monkeypatch.setattr(fastdecode, "json", types.SimpleNamespace(loads=lambda d: sentinel))
    for objects in (0, 1, 255 - arrays, 256 - arrays):
        if objects < 0:
            continue
        data = b"[" + b",".join([b"[]"] * arrays + [b"{}"] * objects) + b"]"
        expect_stdlib = 1 + arrays + objects >= fastdecode.MAX_FAST_NESTING
        assert (fastdecode.loads(data) is sentinel) == expect_stdlib, (arrays, objects)


NUMBERS = [
    "0", "-0", "1", "-1", "0.0", "-0.0", "0e0", "1E+2", "1e-2", "1.5e308", "1.7976931348623157e308", "1.8e308",
    "2.2250738585072014e-308", "4.9e-324", "5e-324", "2e-324", "1e-400", "1e400", "-1e400", "0.1", "0.30000000000000004",
    "0.30000000000000004441", "123456789012345678", "-123456789012345678", "999999999999999999", "1000000000000000000",
    "9223372036854775807", "9223372036854775808", "-9223372036854775808", "-9223372036854775809", "18446744073709551615",
    "18446744073709551616", "-18446744073709551616", "123456789012345678901234567890", "1" + "0" * 400, "1" + "0" * 4301,
    "0.12345678901234567", "1.23456789012345678e5", "12345678.123456789", "1e00000000000000005", "1e0000000000000000005",
    "9007199254740993", "9007199254740993.0", "1.0000000000000002", "1e22", "1e23", "8.98846567431158e307", "NaN", "-NaN",
    "Infinity", "-Infinity", "01", "-01", "00", "1.", ".5", "+1", "-", "1e", "1e+", "--1", "1.e5", "0x10", "1_000",
]
EDGES = [
    b"", b" ", b"\n\t\r {} \r\n", b"null", b"true", b"tru", b"nul", b"[1,]", b"{,}", b'{"a" 1}', b"{'a':1}", b'{"a":1} x',
    b'{"a":1}{"b":2}', b'{"a":1,"a":2}', b'{"b":1,"a":2,"b":3}', b'{"a":{"x":1},"a":[2]}', b'"x"', b"[]", b"{}", b" [ ] ",
    b'"\\ud800"', b'"\\udc00\\ud800"', b'"\\ud83d\\ude00"', b'"\\ud83d"', b'"\\u0000"', b'"\\/"', b'"\\u00E9"', b'"\\x41"',
    b'"\\u12"', b'"\\"', b'"a\x00b"', b'"a\x01b"', b'"a\x1fb"', b'"a\x7fb"', b'"\xc3\xa9"', b'"\xff"', b'"\xc3"', b'"\xed\xa0\x80"',
    b'"\xf4\x90\x80\x80"', b'"\xe2\x80\xa8"', b"\x00", b"\x00{}", b"{\x00}", b"1\x00", b'"\x00"', b"\x0b{}", b"\x0c{}", b"\xc2\xa0{}",
    b"\xef\xbb\xbf{}", b"\xef\xbb\xbf", b"\xff\xfe{\x00}\x00", b"\xfe\xff\x00{\x00}", '{"a":1}'.encode("utf-16"),
    '{"a":1}'.encode("utf-16-le"), '{"a":1}'.encode("utf-16-be"), '{"a":1}'.encode("utf-32"), '[1]'.encode("utf-32-le"),
    b'{"' + b"k" * 10_000 + b'":1}', b'["' + "é".encode() * 5_000 + b'"]', b'{"id":"' + b"1" * 30 + b'"}',
    b'{"id":"' + b"1" * 18 + b'"}', b'{"id":"' + b"9" * 19 + b'"}', b"[" + b"[]," * 300 + b"[]]", b"[" + b"{}," * 300 + b"{}]",
] + [b"[" * depth + b"]" * depth for depth in (254, 255, 256, 257, 900, 1000, 1023, 1024, 1025, 5000)] + [
    b'{"a":' * depth + b"1" + b"}" * depth for depth in (255, 256, 1000, 1025)] + [
    b"[" + n.encode() + b"]" for n in NUMBERS] + [n.encode() for n in NUMBERS] + [b'{"a":' + n.encode() + b',"b":1}' for n in NUMBERS]


@pytest.mark.parametrize("data", EDGES, ids=range(len(EDGES)))
def test_edge_cases_give_the_stdlibs_value_or_error(data):
    expected = outcome(json.loads, data)
    text = data.decode("utf-8", "surrogatepass") if _decodes(data) else None
    for fn in LOADS:
        assert outcome(fn, data) == expected, fn.__name__
        if text is not None:
            assert outcome(fn, text) == outcome(json.loads, text), fn.__name__


def _decodes(data: bytes) -> bool:
    try:
        data.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        return False
    return True


@pytest.mark.parametrize("text", ["\ufeff{}", '"\ud800"', '["\udfff"]', '{"a":"\ud83d\ude00"}', "\u00a0{}", "\u3000[]",
                                  '{"a":1}\u2028', "[1]\x00", "\x00", '["' + "\U0001f600" * 100 + '"]', "[" * 300 + "]" * 300])
def test_str_only_cases_give_the_stdlibs_value_or_error(text):
    for fn in LOADS:
        assert outcome(fn, text) == outcome(json.loads, text), fn.__name__


@pytest.mark.parametrize("data", [bytearray(b'{"a":1}'), memoryview(b'{"a":1}'), 1, None, [b"{}"]])
def test_other_input_types_behave_as_json_loads(data):
    for fn in LOADS:
        assert outcome(fn, data) == outcome(json.loads, data), fn.__name__


def test_floats_round_trip_bit_for_bit():
    rnd = random.Random(1401)
    texts = [repr(rnd.uniform(-1e6, 1e6)) for _ in range(2_000)]
    texts += [repr(rnd.random() * 10.0 ** rnd.randrange(-320, 309)) for _ in range(2_000)]
    texts += [f"{rnd.randrange(10 ** rnd.randrange(1, 18))}.{rnd.randrange(10 ** rnd.randrange(1, 18))}e{rnd.randrange(-330, 320)}"
              for _ in range(2_000)]
    data = ("[" + ",".join(texts) + "]").encode()
    assert len(json.loads(data)) == 6_000
    for text in texts:
        expected = outcome(json.loads, text)
        for fn in LOADS:
            assert outcome(fn, text) == expected, text


_JSON_BYTES = [bytes([b]) for b in b'0123456789"\\{}[],:.eE-+ \t\n\rntfuNI'] + [
    b"\x00", b"\x01", b"\x0b", b"\x0c", b"\x7f", b"\xff", b"\xc3", b"\xa9", b"\xed", b"\xef\xbb\xbf", b"\\u", b"\\ud800",
    b"1" * 19, b"9" * 25, b"-" + b"9" * 19, b"1" * 18, b"1e400", b"NaN", b"Infinity", b"[" * 300, b"]" * 300, b"\xc2\xa0"]


def mutants(seed: bytes, rnd: random.Random, count: int):
    """``count`` copies of ``seed`` with 1-3 edits each: a byte replaced, inserted or deleted, a
    span duplicated (duplicate keys, deeper nesting) or an edge token inserted."""
    for _ in range(count):
        data = bytearray(seed)
        for _ in range(rnd.randrange(1, 4)):
            at = rnd.randrange(len(data) + 1)
            op = rnd.randrange(5)
            if op == 0 and data:
                data[min(at, len(data) - 1)] = rnd.randrange(256)
            elif op == 1:
                data[at:at] = rnd.choice(_JSON_BYTES)
            elif op == 2 and data:
                del data[at:at + rnd.randrange(1, 4)]
            elif op == 3:
                end = min(len(data), at + rnd.randrange(1, 40))
                data[at:at] = data[at:end]
            else:
                data[at:at] = rnd.choice(_JSON_BYTES) * rnd.randrange(1, 3)
        yield bytes(data)


def _fuzz(seeds: list[bytes], count: int, seed: int) -> dict[str, int]:
    rnd = random.Random(seed)
    seen = {"ok": 0, "error": 0}
    for base in seeds:
        for data in mutants(base, rnd, count):
            expected = outcome(json.loads, data)
            seen[expected[0]] += 1
            for fn in LOADS:
                assert outcome(fn, data) == expected, (fn.__name__, data)
            if _decodes(data):
                text = data.decode("utf-8", "surrogatepass")
                expected_text = outcome(json.loads, text)
                for fn in LOADS:
                    assert outcome(fn, text) == expected_text, (fn.__name__, text)
    return seen


def test_fuzzed_small_documents_give_the_stdlibs_value_or_error():
    seeds = [SMALL, b'{"a":[1,{"b":[2,[3]]}],"c":"d"}', b"[18446744073709551615,-9223372036854775808,1.5e300]", b'"x"', b"0"]
    seen = _fuzz(seeds, 4_000, seed=14)
    assert seen["ok"] > 2_000 and seen["error"] > 2_000  # both kinds of outcome were compared


def test_fuzzed_real_bodies_and_envelopes_give_the_stdlibs_value_or_error():
    seeds = [STRIPE_RAW, PAYPAL_RAW, json.dumps(json.loads(STRIPE_RAW), separators=(",", ":")).encode(),
             envelope_json(STRIPE_RAW).encode(), envelope_json(PAYPAL_RAW).encode()]
    seen = _fuzz(seeds, 600, seed=1404)
    assert seen["ok"] > 300 and seen["error"] > 300


def _a2b(text):
    return binascii.a2b_base64(text, strict_mode=True)


def test_b64_short_strings_exhaustively_give_the_stdlibs_bytes_or_error():
    differs_from_pybase64 = 0
    for length in range(7):
        for chars in itertools.product("Aa+/=\n-", repeat=length):
            text = "".join(chars)
            expected = outcome(_a2b, text)
            assert outcome(fastdecode.b64decode_strict, text) == expected, text
            differs_from_pybase64 += outcome(lambda s: pybase64.b64decode(s, validate=True), text)[0] != expected[0]
    assert differs_from_pybase64 > 0  # the fallback was exercised: "AAAA=" and the like


@pytest.mark.parametrize("text", ["", "é", "QUFB\u00e9", "\ud800", "AAAA=", "AA==", "AB==", "AA=", "A", " AAAA", "AAAA\n",
                                  "AA==AA==", "=AAA", "QQ", "QUFB\x00", "QUFB" * 1000 + "=", "-_-_", b"QUFB", bytearray(b"QUFB"), None, 1])
def test_b64_edge_cases_give_the_stdlibs_bytes_or_error(text):
    assert outcome(fastdecode.b64decode_strict, text) == outcome(_a2b, text)


def test_b64_fuzzed_real_bodies_give_the_stdlibs_bytes_or_error():
    rnd = random.Random(1402)
    alphabet = "ABCab019+/=\n -_!é\x00\u0100\ud800"
    seeds = [json.loads(envelope_json(raw))["body_b64"] for raw in (STRIPE_RAW, PAYPAL_RAW)]
    seeds += [pybase64.b64encode(bytes(rnd.randrange(256) for _ in range(n))).decode() for n in range(12)]
    ok = 0
    for base in seeds:
        for _ in range(2_000):
            text = list(base)
            for _ in range(rnd.randrange(0, 3)):
                op, at = rnd.randrange(3), rnd.randrange(len(text) + 1)
                if op == 0 and text:
                    text[min(at, len(text) - 1)] = rnd.choice(alphabet)
                elif op == 1:
                    text.insert(at, rnd.choice(alphabet))
                elif op == 2 and text:
                    del text[min(at, len(text) - 1)]
            candidate = "".join(text)
            expected = outcome(_a2b, candidate)
            ok += expected[0] == "ok"
            assert outcome(fastdecode.b64decode_strict, candidate) == expected, candidate
    assert 1_000 < ok < 28_000


def test_an_envelope_with_a_huge_integer_parses_as_json_would():
    """orjson alone would read received_at 2**64 as a float and reject the envelope."""
    envelope = json.loads(envelope_json(STRIPE_RAW))
    envelope["received_at"] = 2**64
    assert parse_envelope(json.dumps(envelope)).received_at == 2**64
    envelope["received_at"] = 1.5
    with pytest.raises(Rejected):
        parse_envelope(json.dumps(envelope))
