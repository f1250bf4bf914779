"""OrgReg's incremental mode: a full listing, delivering only what changed since the last.

OrgReg has no change feed the hub can use, so the connector lists every unit on each poll.
To deliver only the units that changed (and to re-read nothing after a restart), its
checkpoint holds a short digest of each unit as the last listing showed it. A unit whose
digest differs, or that is new, is delivered; a unit gone from the listing only drops out
of the checkpoint: deletions are for the full reconciliation, with its safeguards against
a listing cut short.

Digests are 12 hex digits of SHA-256 over the unit's JSON (keys sorted): a collision
would at worst delay a change to the next full reconciliation, which compares records.

>>> digests = {"1430": digest({"ouId": 1430}), "1400": digest({"ouId": 1400})}
>>> decode_digests(encode_digests(digests)) == digests
True
>>> encode_digests({})
'v1:'
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping

from hub.errors import MappingError

__all__ = ["DIGEST_LENGTH", "decode_digests", "digest", "encode_digests"]

DIGEST_LENGTH = 12
VERSION = "v1:"
MAX_UNITS = 200_000
_ENTRY = re.compile(rf"(#?[0-9a-f]{{1,64}})=([0-9a-f]{{{DIGEST_LENGTH}}})")
_LABEL = "OrgReg checkpoint"


def digest(unit: object) -> str:
    """A unit's digest: what the checkpoint remembers of it."""
    text = json.dumps(unit, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8", errors="surrogatepass")).hexdigest()[:DIGEST_LENGTH]


def encode_digests(digests: Mapping[str, str]) -> str:
    """The digests (by unit key) as a checkpoint string."""
    return VERSION + ",".join(f"{key}={digests[key]}" for key in sorted(digests))


def decode_digests(checkpoint: str) -> dict[str, str]:
    """The digests of a checkpoint string; raises :class:`MappingError` if it is not one."""
    if not checkpoint.startswith(VERSION):
        raise MappingError(f"{_LABEL} does not start with {VERSION}")
    body = checkpoint.removeprefix(VERSION)
    if not body:
        return {}
    entries = body.split(",")
    if len(entries) > MAX_UNITS:
        raise MappingError(f"{_LABEL} has more than {MAX_UNITS} units")
    digests: dict[str, str] = {}
    for index, entry in enumerate(entries):
        found = _ENTRY.fullmatch(entry)
        if found is None:
            raise MappingError(f"{_LABEL}: entry {index} is not key=digest")
        if found.group(1) in digests:
            raise MappingError(f"{_LABEL}: entry {index} repeats a unit")
        digests[found.group(1)] = found.group(2)
    return digests
