"""`ledgermcp` with the vendor's client-side rate limit off, for installs that lack
`LEDGERMCP_<VENDOR>_RATE_LIMIT`.

Fortnox allows 25 requests per 5 s; 300 timed calls would measure that queue, not the server.
The harness uses the real `ledgermcp` command whenever `ledgermcp tools VENDOR --env` lists the
variable (it then sets it to `off`), and this entry only otherwise; the report says which one ran.
Everything but the limit is the real command line: same parser, same start-up path.

    python -m bench.ledgermcp_entry serve fortnox [...]
"""

from __future__ import annotations

import sys


def main() -> int:
    from ledgermcp.server.cli import main as ledgermcp_main
    from ledgermcp.server.http.ratelimit import RateLimit

    RateLimit.from_vendor = classmethod(lambda cls, vendor_info: None)  # type: ignore[method-assign,assignment]
    return ledgermcp_main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
