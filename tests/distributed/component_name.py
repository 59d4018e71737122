"""``[core] hostname_callable`` of the distributed deployment: each component's own name.

All components run on one machine, so the real hostname cannot tell them apart; with this, the
``job`` table names each triggerer (``triggerer-1``...) and each task instance's ``hostname`` names
the Celery worker that ran it (its task runners inherit the worker's environment).
"""

from __future__ import annotations

import os
import socket


def hostname() -> str:
    """The component's name from ``EMPIRIOLABS_COMPONENT``, else the machine's name."""
    return os.environ.get("EMPIRIOLABS_COMPONENT") or socket.getfqdn()
