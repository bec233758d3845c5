#!/usr/bin/python3
"""Independently recompute every ESP known-answer packet in src/esp/esp_test_vectors.hpp.

For each entry of kEspKnownAnswers this script rebuilds the whole ESP packet (SPI through
ICV) from the entry's key, salt, IV, SPI, sequence number, payload, padding, pad length and
next header, using Python's `cryptography` package (not uipsec code), and compares it with
the transcribed `packet`. It also opens the transcribed packet again (decrypt / verify the
ICV, parse the trailer) and checks that it gives back the same payload and trailer.

Constructions (per algorithm, as the RFCs define them):
  rfc4106(gcm(aes))   RFC 4106 §4-§5: nonce = salt || IV; AAD = SPI || seq (8 bytes), or
                      SPI || seq_hi || seq_lo (12 bytes) with ESN; plaintext = payload ||
                      padding || pad length || next header; ICV = 16-byte GCM tag.
  rfc4543(gcm(aes))   RFC 4543 §3 (as clarified by draft-mcgrew-gcm-test-01 §3): nonce =
                      salt || IV; AAD = SPI || seq (|| seq_lo with ESN, high half first) ||
                      IV || payload || padding || pad length || next header; nothing is
                      encrypted; the packet carries the payload in clear; ICV = GMAC tag.
  rfc7539esp(chacha20,poly1305)
                      RFC 7634 §2: nonce = salt || IV; AAD as for rfc4106.
  cbc(aes) + hmac(sha256)
                      RFC 3602 + RFC 4868: ciphertext = AES-CBC(key, IV, plaintext);
                      ICV = first icv_bits/8 bytes of HMAC-SHA-256(auth_key, SPI || seq_lo ||
                      IV || ciphertext [|| seq_hi when ESN, RFC 4303 §2.2.1]).

Prints one line per vector and exits non-zero if any vector does not verify.
Usage: /usr/bin/python3 scripts/verify_esp_vectors.py [path/to/esp_test_vectors.hpp]
"""

import hashlib
import hmac
import pathlib
import re
import sys

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

DEFAULT_HEADER = pathlib.Path(__file__).resolve().parent.parent / "src/esp/esp_test_vectors.hpp"

FIELDS = [
    "source", "cipher", "cipher_key", "auth", "auth_key", "icv_bits", "spi", "sequence",
    "esn", "iv", "payload", "pad_length", "padding", "next_header", "packet",
    "icv_computed_locally", "outer_header",
]
STRING_FIELDS = {"source", "cipher", "cipher_key", "auth", "auth_key", "iv", "payload",
                 "padding", "packet", "outer_header"}
HEX_FIELDS = {"cipher_key", "auth_key", "iv", "payload", "padding", "packet", "outer_header"}

STRING_LIT = r'"(?:[^"\\]|\\.)*"'


class VectorError(Exception):
    pass


def strip_comments(text):
    # Remove // and /* */ comments, leaving string literals alone.
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if c == '"':
            m = re.compile(STRING_LIT).match(text, i)
            out.append(m.group(0))
            i = m.end()
        elif text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            i = n if j < 0 else j + 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def concat_literals(expr):
    lits = re.findall(STRING_LIT, expr)
    return "".join(bytes(l[1:-1], "utf-8").decode("unicode_escape").encode("latin-1")
                   .decode("utf-8") for l in lits)


def parse_value(field, expr, constants):
    expr = expr.strip()
    if field in STRING_FIELDS:
        if re.fullmatch(r"(?:\s*" + STRING_LIT + r")+\s*", expr):
            return concat_literals(expr)
        if expr in constants:
            return constants[expr]
        raise VectorError(f"field {field}: cannot parse {expr!r}")
    if field in ("esn", "icv_computed_locally"):
        if expr not in ("true", "false"):
            raise VectorError(f"field {field}: expected true/false, got {expr!r}")
        return expr == "true"
    m = re.fullmatch(r"(0[xX][0-9a-fA-F]+|\d+)[uUlL]*", expr)
    if not m:
        raise VectorError(f"field {field}: expected an integer, got {expr!r}")
    return int(m.group(1), 0)


def split_top_level(body, sep=","):
    parts, depth, cur, i = [], 0, [], 0
    lit = re.compile(STRING_LIT)
    while i < len(body):
        c = body[i]
        if c == '"':
            m = lit.match(body, i)
            cur.append(m.group(0))
            i = m.end()
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
        if c == sep and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(c)
        i += 1
    if "".join(cur).strip():
        parts.append("".join(cur))
    return parts


def parse_header(path):
    text = strip_comments(pathlib.Path(path).read_text(encoding="utf-8"))
    constants = {}
    for m in re.finditer(r"inline\s+constexpr\s+const\s+char\s*\*\s*(\w+)\s*=\s*((?:\s*"
                         + STRING_LIT + r")+)\s*;", text):
        constants[m.group(1)] = concat_literals(m.group(2))
    m = re.search(r"kEspKnownAnswers\s*\[\s*\]\s*=\s*\{", text)
    if not m:
        raise VectorError("kEspKnownAnswers not found")
    # Find the matching closing brace of the array initializer.
    start, depth, i = m.end(), 1, m.end()
    lit = re.compile(STRING_LIT)
    while depth:
        if text[i] == '"':
            i = lit.match(text, i).end()
            continue
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        i += 1
    body = text[start:i - 1]
    entries = []
    for raw in split_top_level(body):
        raw = raw.strip()
        if not raw:
            continue
        if not (raw.startswith("{") and raw.endswith("}")):
            raise VectorError(f"unexpected initializer: {raw[:60]!r}")
        items = [x for x in split_top_level(raw[1:-1]) if x.strip()]
        entry = {}
        if all(x.strip().startswith(".") for x in items):
            for x in items:
                fm = re.fullmatch(r"\s*\.(\w+)\s*=\s*(.*)", x, re.S)
                name = fm.group(1)
                if name not in FIELDS or name in entry:
                    raise VectorError(f"unknown or repeated field .{name}")
                entry[name] = parse_value(name, fm.group(2), constants)
        else:  # positional initializer, in declaration order
            for name, x in zip(FIELDS, items):
                entry[name] = parse_value(name, x, constants)
        missing = [f for f in FIELDS if f not in entry]
        if missing:
            raise VectorError(f"entry {entry.get('source')!r} lacks {missing}")
        entries.append(entry)
    return entries


def unhex(field, s):
    if not re.fullmatch(r"(?:[0-9a-f]{2})*", s):
        raise VectorError(f"{field} is not lower-case even-length hex without spaces")
    return bytes.fromhex(s)


def check(e):
    """Returns a short description; raises VectorError on any mismatch."""
    v = {k: (unhex(k, e[k]) if k in HEX_FIELDS else e[k]) for k in FIELDS}
    cipher, auth, icv_len = v["cipher"], v["auth"], v["icv_bits"] // 8
    if v["icv_bits"] != 128:
        raise VectorError(f"icv_bits {v['icv_bits']} (expected 128)")
    if not 0 <= v["spi"] < 2**32 or not 0 <= v["sequence"] < 2**64:
        raise VectorError("spi/sequence out of range")
    seq_hi, seq_lo = v["sequence"] >> 32, v["sequence"] & 0xFFFFFFFF
    if not v["esn"] and seq_hi:
        raise VectorError("sequence has high bits but esn is false")
    if len(v["padding"]) != v["pad_length"] or not 0 <= v["pad_length"] <= 255:
        raise VectorError(f"pad_length {v['pad_length']} != len(padding) {len(v['padding'])}")
    if not 0 <= v["next_header"] <= 255:
        raise VectorError("next_header out of range")
    monotonic = v["padding"] == bytes(range(1, v["pad_length"] + 1))

    spi = v["spi"].to_bytes(4, "big")
    hdr = spi + seq_lo.to_bytes(4, "big")
    seq_aad = hdr if not v["esn"] else spi + v["sequence"].to_bytes(8, "big")
    trailer = v["padding"] + bytes([v["pad_length"], v["next_header"]])
    plaintext = v["payload"] + trailer
    iv, key, pkt = v["iv"], v["cipher_key"], v["packet"]

    if cipher in ("rfc4106(gcm(aes))", "rfc4543(gcm(aes))", "rfc7539esp(chacha20,poly1305)"):
        if auth or v["auth_key"]:
            raise VectorError("AEAD entry with an auth algorithm/key")
        if v["icv_computed_locally"]:
            raise VectorError("AEAD entry marked icv_computed_locally")
        key, salt = key[:-4], key[-4:]
        if len(iv) != 8:
            raise VectorError(f"IV is {len(iv)} bytes, expected 8")
        nonce = salt + iv
        if cipher == "rfc7539esp(chacha20,poly1305)":
            if len(key) != 32:
                raise VectorError("ChaCha20 key is not 32 bytes")
            aead, block = ChaCha20Poly1305(key), 4
        else:
            if len(key) not in (16, 24, 32):
                raise VectorError(f"AES key is {len(key)} bytes")
            aead, block = AESGCM(key), 4
        if cipher == "rfc4543(gcm(aes))":
            aad = seq_aad + iv + plaintext
            expect = hdr + iv + plaintext + aead.encrypt(nonce, b"", aad)
        else:
            aad = seq_aad
            expect = hdr + iv + aead.encrypt(nonce, plaintext, aad)
        kind = f"{cipher} key={len(key) * 8}"
    elif cipher == "cbc(aes)":
        if auth != "hmac(sha256)":
            raise VectorError(f"unsupported auth {auth!r}")
        if len(key) not in (16, 24, 32) or len(iv) != 16:
            raise VectorError("bad AES-CBC key or IV length")
        block = 16
        if len(plaintext) % 16:
            raise VectorError("CBC plaintext is not a whole number of blocks")
        enc = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
        body = hdr + iv + enc.update(plaintext) + enc.finalize()
        icv_input = body + (seq_hi.to_bytes(4, "big") if v["esn"] else b"")
        icv = hmac.new(v["auth_key"], icv_input, hashlib.sha256).digest()[:icv_len]
        expect = body + icv
        kind = f"{cipher}+{auth} key={len(key) * 8}"
    else:
        raise VectorError(f"unsupported cipher {cipher!r}")

    if expect != pkt:
        n = next((i for i in range(min(len(expect), len(pkt))) if expect[i] != pkt[i]),
                 min(len(expect), len(pkt)))
        raise VectorError(f"packet mismatch at byte {n} (computed {len(expect)} bytes, "
                          f"transcribed {len(pkt)}): computed ...{expect[n:n + 8].hex()}, "
                          f"transcribed ...{pkt[n:n + 8].hex()}")

    # Open the transcribed packet the way a receiver would and parse its trailer.
    if pkt[:8] != hdr or pkt[8:8 + len(iv)] != iv:
        raise VectorError("packet header/IV do not match spi/sequence/iv")
    body = pkt[8 + len(iv):]
    if cipher == "cbc(aes)":
        ct, icv = body[:-icv_len], body[-icv_len:]
        icv_input = pkt[:-icv_len] + (seq_hi.to_bytes(4, "big") if v["esn"] else b"")
        if not hmac.compare_digest(
                icv, hmac.new(v["auth_key"], icv_input, hashlib.sha256).digest()[:icv_len]):
            raise VectorError("ICV does not verify on open")
        dec = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
        opened = dec.update(ct) + dec.finalize()
    elif cipher == "rfc4543(gcm(aes))":
        opened, tag = body[:-icv_len], body[-icv_len:]
        try:
            aead.decrypt(nonce, tag, seq_aad + iv + opened)
        except InvalidTag:
            raise VectorError("GMAC tag does not verify on open") from None
    else:
        try:
            opened = aead.decrypt(nonce, body, seq_aad)
        except InvalidTag:
            raise VectorError("AEAD tag does not verify on open") from None
    pad_len, nh = opened[-2], opened[-1]
    if (pad_len, nh) != (v["pad_length"], v["next_header"]) or \
            opened[:-2 - pad_len] != v["payload"] or opened[-2 - pad_len:-2] != v["padding"]:
        raise VectorError("opened packet does not give back payload/padding/trailer")

    minimal = (-(len(v["payload"]) + 2)) % block == v["pad_length"]
    flags = []
    if v["esn"]:
        flags.append(f"ESN seq=0x{v['sequence']:016x}")
    else:
        flags.append(f"seq=0x{v['sequence']:x}")
    flags.append(f"pad={v['pad_length']}" + ("" if minimal else " NON-MINIMAL")
                 + ("" if monotonic else " NON-MONOTONIC"))
    flags.append(f"nh={v['next_header']}")
    if v["icv_computed_locally"]:
        flags.append("ICV ours")
    return f"{kind} spi=0x{v['spi']:08x} {' '.join(flags)} len={len(pkt)}"


def main(argv):
    path = argv[1] if len(argv) > 1 else DEFAULT_HEADER
    try:
        entries = parse_header(path)
    except VectorError as err:
        print(f"FAIL parsing {path}: {err}")
        return 2
    failures = 0
    for i, e in enumerate(entries, 1):
        try:
            info = check(e)
            print(f"ok   [{i:2}] {e['source']}: {info}")
        except VectorError as err:
            failures += 1
            print(f"FAIL [{i:2}] {e['source']}: {err}")
    print(f"{len(entries) - failures}/{len(entries)} vectors verified")
    return 1 if failures or not entries else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
