"""What the source fault tests share: the outage length and a gateway's 404 body (the
``kit`` fixture, this test's topics on the real broker and registry, is in conftest).

``HUB_TEST_OUTAGE_S`` sets how long a source answers 503 (default 3 s: long enough for
several retries with the kit's backoff of 0.05-0.5 s, short enough for CI; a real outage
of minutes only repeats the same cycle).
"""

from __future__ import annotations

import json
import os

OUTAGE_S = float(os.environ.get("HUB_TEST_OUTAGE_S", "3"))
WITHIN_S = 60.0
GATEWAY_404 = json.dumps({"message": "No context-path matches the request URI."}).encode()
