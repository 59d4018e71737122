"""Triggers that ``bench/triggerer.py`` hands to Airflow's trigger runner (imported there by classpath).

* :class:`TickerTrigger` measures the runner's event-loop lag from the inside: it sleeps a short,
  fixed time again and again and records how late each wake-up was (its own sleep overshoot),
  appending the samples to a file every second.
* :class:`SleeperTrigger` only sleeps: the trigger runner's own cost per trigger, the floor under
  any real trigger.
* :class:`PerPollClientTrigger` is the EmpirioLabs trigger with a hook that builds and closes an
  ``httpx.AsyncClient`` for every request: the design the shared client replaces, measured side
  by side.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
from airflow.triggers.base import BaseTrigger, TriggerEvent

import airflow_provider_empiriolabs.triggers.empiriolabs as trigger_module
from airflow_provider_empiriolabs.hooks.empiriolabs import EmpirioLabsHook
from airflow_provider_empiriolabs.triggers.empiriolabs import EmpirioLabsJobTrigger


class TickerTrigger(BaseTrigger):
    """
    Sleep ``interval`` seconds in a loop; write ``<unix time> <overshoot seconds>`` lines to ``path``.

    :param interval: the sleep each tick asks for.
    :param path: where the samples go (appended once a second, so a crash loses at most a second).
    """

    def __init__(self, interval: float, path: str) -> None:
        super().__init__()
        self.interval = interval
        self.path = path

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return f"{type(self).__module__}.{type(self).__qualname__}", {"interval": self.interval, "path": self.path}

    async def run(self) -> AsyncIterator[TriggerEvent]:
        pending: list[str] = []
        flushed = time.monotonic()
        while True:
            before = time.monotonic()
            await asyncio.sleep(self.interval)
            after = time.monotonic()
            pending.append(f"{time.time():.4f} {after - before - self.interval:.6f}\n")
            if after - flushed >= 1.0:
                with open(self.path, "a") as f:
                    f.writelines(pending)
                pending.clear()
                flushed = after
        yield TriggerEvent({})  # never reached: the benchmark cancels it


class SleeperTrigger(BaseTrigger):
    """
    Waits in a loop and never asks anything: what the trigger runner itself costs per trigger.

    :param interval: seconds between wake-ups (the EmpirioLabs triggers' ``poll_interval``).
    """

    def __init__(self, interval: float) -> None:
        super().__init__()
        self.interval = interval

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return f"{type(self).__module__}.{type(self).__qualname__}", {"interval": self.interval}

    async def run(self) -> AsyncIterator[TriggerEvent]:
        while True:
            await asyncio.sleep(self.interval)
        yield TriggerEvent({})  # never reached: the benchmark cancels it


class PerPollClientHook(EmpirioLabsHook):
    """The EmpirioLabs hook, except that every request gets a client of its own, closed after it."""

    async def _arun(self, call: Any) -> Any:
        settings = await self.asettings()
        client = httpx.AsyncClient(**self._client_options(settings))
        self._async_client = client  # aget_conn() returns it instead of the shared one
        try:
            return await super()._arun(call)
        finally:
            self._async_client = None
            await client.aclose()


class PerPollClientTrigger(EmpirioLabsJobTrigger):
    """
    :class:`EmpirioLabsJobTrigger` whose hook builds a client per poll.

    The trigger builds its hook from its module's ``EmpirioLabsHook`` name; the benchmark runs this
    class in a trigger runner of its own, which runs no other EmpirioLabs trigger, so swapping that
    name there changes only this variant.
    """

    async def run(self) -> AsyncIterator[TriggerEvent]:
        trigger_module.EmpirioLabsHook = PerPollClientHook  # type: ignore[misc]
        async for event in super().run():
            yield event
