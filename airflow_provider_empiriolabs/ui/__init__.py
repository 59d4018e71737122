"""
The EmpirioLabs view in the Airflow UI: each run's videos, playable, and what the account spent.

:mod:`.plugin` is the Airflow plugin (registered through the provider info), :mod:`.app` its
FastAPI app; :mod:`.urls` is all the task link needs (it imports no web framework).
"""

from __future__ import annotations

__all__: list[str] = []
