#!/usr/bin/env python3
"""A server-driven POS in the manner of Odoo's, as a readerlab driver-protocol-1 adapter.

    readerlab conform --pos '.venv-ci/bin/python adapters/python/readerlab_odoo_adapter.py'

(from the repository root: readerlab runs the command in its own working directory).

Speaks NDJSON JSON-RPC 2.0 on stdin/stdout and logs on stderr; see README.md.
"""

import sys

from readerlab_odoo.main import main

if __name__ == "__main__":
    sys.exit(main())
