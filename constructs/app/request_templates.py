"""The API Gateway request template (VTL) of the webhook routes' SQS `SendMessage` integration,
rendered from the ingest envelope's one definition (`paycore.envelope.FIELDS`) and each provider's
signature headers and FIFO group rule (`paycore.providers`).

Infrastructure-facing, so it lives in the app layer: the Lambda runtime package only parses what
this template produces (`paycore.envelope.parse_envelope`) and never imports this module.
"""

from __future__ import annotations

from paycore import providers
from paycore.envelope import FIELDS
from paycore.providers import GroupRule


def render_request_template(provider: str) -> str:
    """API Gateway ``application/json`` request template for the SQS ``SendMessage`` integration.

    The output is one line (no stray whitespace can leak into the form values)::

        Action=SendMessage&MessageBody=<urlencoded envelope>&MessageGroupId=...&MessageDeduplicationId=...

    VTL facts used: identifiers start with a letter (``$envelopeP0``, never ``$_x``); text
    right after ``#end`` starts with ``#`` or ``$``; ``$util.escapeJavaScript`` on header values (a value containing ``'`` becomes
    ``\\'``, which is not valid JSON: such a message - never sent by Stripe or PayPal - is
    quarantined as ``malformed_envelope``); header names are matched case-insensitively by
    looping over ``$input.params().header``; literal JSON pieces sit in single-quoted VTL strings
    (no interpolation, no escaping); ``$input.path`` reads the ids for the FIFO message ids.
    """
    spec = providers.get(provider)
    if not spec.webhook or not spec.group_id_path:
        raise ValueError(f"provider {provider!r} is not a webhook provider (no request template)")

    out: list[str] = ["#set($h = $input.params().header)"]
    header_json = []
    for i, name in enumerate(spec.signature_headers):
        out.append(f'#set($h{i} = "")')
        header_json.append(f'"{name}":"$util.escapeJavaScript($h{i})"')
    out.append("#foreach($k in $h.keySet())#set($lk = $k.toLowerCase())")
    for i, name in enumerate(spec.signature_headers):
        out.append(f'#if($lk == "{name}")#set($h{i} = $h.get($k))#end')
    out.append("#end")
    out.append("#set($body_b64 = $util.base64Encode($input.body))")

    # Literal JSON text goes into single-quoted VTL strings; dynamic parts are interpolated.
    pieces: list[str] = []
    for index, f in enumerate(FIELDS):
        value = f.vtl.replace("{provider}", spec.name).replace("{headers}", "{" + ",".join(header_json) + "}")
        pieces.append(("{" if index == 0 else ",") + f'"{f.name}":' + value)
    pieces.append("}")
    json_text = "".join(pieces)
    out.append(_vtl_concat("envelope", json_text))

    # The dedup id is never read from the (unverified) body: a forged copy carrying a genuine
    # event id would otherwise claim that id for SQS's 5-minute window and the genuine delivery
    # would be dropped. Idempotency is the ledger's conditional write.
    out.append("#set($dedup = $context.requestId)")
    out.append('#set($group = "")')
    out.extend(_group_rule(rule) for rule in (*spec.group_id_rules, GroupRule(spec.group_id_path)))
    # SQS refuses the whole message when its MessageGroupId is not 1 to 128 printable ASCII
    # characters without the space (SendMessage API reference): a group read from the unverified
    # body that is not one (a space, a non-ASCII letter, a map's text, a 129th character) is
    # dropped like a missing one, and the message is enqueued for the processor to decide.
    out.append('#if($group.replaceAll("[!-~]", "") != "" || $group.length() > 128)#set($group = "")#end')
    out.append('#if($group == "")#set($group = $dedup)#end')
    out.append(
        '#set($form = "Action=SendMessage'
        "&MessageBody=$util.urlEncode($envelope)"
        "&MessageGroupId=$util.urlEncode($group)"
        '&MessageDeduplicationId=$util.urlEncode($dedup)")'
    )
    # Output only at the very end, after a reference: "#end" directly followed by letters would
    # read as another directive name in Velocity.
    out.append("$form")
    return "".join(out)


def _group_rule(rule: GroupRule) -> str:
    """VTL that sets ``$group`` from one group rule while it is still empty: the text at the path,
    or the last segment of the href of the rule's link (``$href``, set from ``"$!link.href"``, is a
    string, so ``contains`` and ``replaceAll`` are Java's String methods; ``#foreach`` over a
    missing list does nothing)."""
    if not rule.link_rel:
        return f"#if($group == \"\")#set($group = \"$!input.path('{rule.path}')\")#end"
    return (f"#if($group == \"\")#foreach($link in $input.path('{rule.path}'))#set($href = \"$!link.href\")"
            f"#if(\"$!link.rel\" == \"{rule.link_rel}\" && $href.contains(\"{rule.href_contains}\"))"
            "#set($group = $href.replaceAll(\"^.*/\", \"\"))#end#end#end")


def _vtl_concat(var: str, text: str) -> str:
    """``#set($var = ...)`` building ``text``: runs of literal characters become single-quoted
    VTL strings, VTL expressions (``$...``) stay live; joined by interpolation."""
    parts: list[str] = []  # VTL set statements
    names: list[str] = []
    literal: list[str] = []
    i, n = 0, len(text)

    def flush_literal() -> None:
        if literal:
            name = f"{var}P{len(names)}"
            chunk = "".join(literal)
            assert "'" not in chunk, "literal JSON text must not contain a single quote"
            parts.append(f"#set(${name} = '{chunk}')")
            names.append("${" + name + "}")
            literal.clear()

    while i < n:
        if text[i] == "$":
            flush_literal()
            j = _end_of_reference(text, i)
            expr = text[i:j]
            name = f"{var}P{len(names)}"
            parts.append(f"#set(${name} = {_as_value(expr)})")
            names.append("${" + name + "}")
            i = j
        else:
            literal.append(text[i])
            i += 1
    flush_literal()
    parts.append(f'#set(${var} = "{"".join(names)}")')
    return "".join(parts)


def _as_value(expr: str) -> str:
    """A VTL reference as the right-hand side of #set: formal ``${a.b}`` -> ``$a.b``."""
    if expr.startswith("${") and expr.endswith("}"):
        return "$" + expr[2:-1]
    return expr


def _end_of_reference(text: str, start: int) -> int:
    """End index of the VTL reference starting at ``text[start] == "$"`` (formal ``${...}`` or
    ``$name.name(...)`` with balanced parentheses)."""
    if text.startswith("${", start):
        return text.index("}", start) + 1
    i, depth = start + 1, 0
    while i < len(text):
        c = text[i]
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return i + 1
        elif depth == 0 and not (c.isalnum() or c in "._"):
            return i
        i += 1
    return i
