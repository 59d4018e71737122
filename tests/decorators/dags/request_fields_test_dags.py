"""
Test-only DAGs for the request's fields (run with ``dag.test()`` against the simulator).

``request_fields_templated`` templates the priced fields from ``params`` (issue 17 item 4);
``request_fields_lens`` uses a request model with one more field, ``lens``, through a derived
operator and a derived ``@task.empiriolabs_video``: the field is the one edit (issue 18).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from airflow.sdk import Param, dag
from airflow.sdk.bases.decorator import task_decorator_factory
from pydantic import Field

from airflow_provider_empiriolabs.decorators.empiriolabs import _EmpirioLabsVideoDecoratedOperator
from airflow_provider_empiriolabs.models import FieldUse, VideoRequest
from airflow_provider_empiriolabs.operators.empiriolabs import EmpirioLabsGenerateVideoOperator

_DEFAULTS: dict[str, Any] = {"start_date": datetime(2026, 1, 1), "schedule": None, "catchup": False, "tags": ["test"]}
_FAST: dict[str, Any] = {"poll_interval": 0.05, "timeout": 120}


class LensRequest(VideoRequest):
    """A request model with one more parameter: shown in the view, its price unknown."""

    lens: Annotated[str | None, FieldUse(displayed=True, bill="unpriced")] = Field(
        None, pattern=r"[1-9][0-9]{0,2}mm", description="the focal length, such as 35mm."
    )


class LensOperator(EmpirioLabsGenerateVideoOperator):
    """The video operator on :class:`LensRequest`: no other code."""

    request_model = LensRequest


class LensDecoratedOperator(_EmpirioLabsVideoDecoratedOperator):
    """``@task.empiriolabs_video`` on :class:`LensRequest`: no other code."""

    request_model = LensRequest


def lens_video_task(python_callable: Any = None, **kwargs: Any) -> Any:
    kwargs.setdefault("multiple_outputs", False)
    return task_decorator_factory(
        python_callable=python_callable, decorated_operator_class=LensDecoratedOperator, **kwargs
    )


@dag(
    dag_id="request_fields_templated",
    params={"duration": Param(4), "resolution": Param("1080p"), "aspect_ratio": Param("9:16")},
    **_DEFAULTS,
)
def templated() -> None:
    """The priced fields come from params, rendered as text (render_template_as_native_obj is off)."""
    # [START howto_operator_empiriolabs_templated_fields]
    EmpirioLabsGenerateVideoOperator(
        task_id="generate",
        prompt="A bay horse walking through tall grass",
        duration="{{ params.duration }}",  # renders "4": read as the number 4
        resolution="{{ params.resolution }}",
        aspect_ratio="{{ params.aspect_ratio }}",
        watermark="{{ params.get('watermark', False) }}",  # "False": read as False
        max_cost_usd=0.75,  # checked against the rendered values: 4 s at 1080p is $0.72
        **_FAST,
    )
    # [END howto_operator_empiriolabs_templated_fields]


@dag(dag_id="request_fields_lens", params={"lens": Param("35mm")}, **_DEFAULTS)
def lens() -> None:
    """A field the model gained reaches the operator, the decorator, the simulator and the view."""
    LensOperator(task_id="operator", prompt="A horse through a wide lens", lens="{{ params.lens }}", **_FAST)

    @lens_video_task(**_FAST)
    def decorated() -> dict[str, Any]:
        return {"prompt": "A horse through a long lens", "lens": "85mm"}

    decorated()


templated()
lens()
