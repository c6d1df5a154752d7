"""`python -m ledgermcp` is the `ledgermcp` command."""

from ledgermcp.server.cli import main

raise SystemExit(main())
