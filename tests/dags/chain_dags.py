"""Test-only DAGs of the chain operator (``dag.test()`` against the simulator)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import Param, dag

from airflow_provider_empiriolabs.operators.chain import EmpirioLabsVideoChainOperator

_DEFAULTS: dict[str, Any] = {"start_date": datetime(2026, 1, 1), "schedule": None, "catchup": False, "tags": ["test"]}

SHOTS = [
    {"prompt": "A lighthouse on a cliff at dawn, waves below", "duration": 3},
    {"prompt": "The camera rises over the lighthouse as gulls circle", "duration": 4},
    {"prompt": "Night falls and the lighthouse beam sweeps the sea", "duration": 3},
]


def _chain(dag_id: str, *, deferrable: bool) -> None:
    @dag(dag_id=dag_id, **_DEFAULTS)
    def chained() -> None:
        EmpirioLabsVideoChainOperator(
            task_id="film",
            shots=SHOTS,
            deferrable=deferrable,
            poll_interval=0.05,
            timeout=120,
            max_cost_usd=1.40,
            retries=1,
            retry_delay=timedelta(0),
        )

    chained()


_chain("empiriolabs_test_chain", deferrable=True)
_chain("empiriolabs_test_chain_worker", deferrable=False)


@dag(dag_id="empiriolabs_test_chain_templated", params={"seconds": Param(3, type="integer")}, **_DEFAULTS)
def templated() -> None:
    """Each shot's duration is known only once rendered: the chain is checked then, before the first link."""
    EmpirioLabsVideoChainOperator(
        task_id="film",
        shots=[{"prompt": shot["prompt"], "duration": "{{ params.seconds }}"} for shot in SHOTS],
        poll_interval=0.05,
        timeout=120,
        max_cost_usd=5.0,
        retries=1,
        retry_delay=timedelta(0),
    )


templated()
