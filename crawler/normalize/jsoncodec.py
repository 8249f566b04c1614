"""Fast, lossless JSON for the hot path: orjson where it is exact, the stdlib where not.

orjson reads integers beyond 64 bits as floats and writes NaN as null; neither may happen
to metadata we promise to keep losslessly. So bodies with a 19+ digit number take the
stdlib decoder, numbers too big for orjson's encoder take the stdlib encoder, and NaN or
Infinity (not JSON at all, RFC 8259) are rejected as invalid.
"""

from __future__ import annotations

import json
from typing import Final

import orjson

# Maps every digit to "0" and everything else to a space, so a run of 19 digits can be
# found with one substring search (a regex scan costs ten times more on this hot path).
_DIGITS: Final = bytes(0x30 if 0x30 <= b <= 0x39 else 0x20 for b in range(256))
_LONG_RUN: Final = b"0" * 19


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not valid JSON")


def loads(body: bytes) -> object:
    """Decode a response body. Raises ValueError (or UnicodeDecodeError) if it is not JSON."""
    if _LONG_RUN in body.translate(_DIGITS):
        return json.loads(body, parse_constant=_reject_constant)
    return orjson.loads(body)


def dumps_sorted(value: object) -> str:
    """Compact JSON with sorted keys: the lossless text form of metadata."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    except TypeError:  # integers beyond 64 bits, or keys orjson will not sort
        return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
