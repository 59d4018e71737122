"""
Compose: a brief becomes a storyboard, a person approves (and may edit) it, then it is rendered and stored.

EmpirioLabs Compose makes a finished short video (scenes, voiceover, captions, music) from a brief,
in two jobs: ``plan`` writes a storyboard, ``render`` makes the MP4 from a storyboard. The plan is
cheap and the render is not, so a person reads the storyboard between them (Airflow's *Required
Actions*, the standard provider's ``ApprovalOperator``): the review form holds the storyboard as
planned, to be edited in place (a narration reworded, a scene dropped); **Approve** renders what
the form holds, **Reject** skips the render and the store. The render's video is then copied to
``destination`` by the transfer, as any EmpirioLabs video is.

Compose has no published price: neither task takes ``max_cost_usd`` (it would refuse them). What
each job cost is reported afterwards in the account's usage (``source=compose``).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from airflow.providers.standard.operators.hitl import ApprovalOperator
from airflow.sdk import Param, dag, task
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_empiriolabs.exceptions import EmpirioLabsRequestError
from airflow_provider_empiriolabs.models.compose_request import ComposeRequest
from airflow_provider_empiriolabs.operators.compose import STORYBOARD_KEY, EmpirioLabsComposeOperator
from airflow_provider_empiriolabs.transfers.empiriolabs_to_object_storage import (
    EmpirioLabsToObjectStorageOperator,
)

#: The recipe (``GET /v1/videos/compose/recipes`` lists them; the hook's ``list_compose_recipes``).
RECIPE = "ai-ugc-product-ad"
#: How long a storyboard may wait for a person (a plan's job stays readable; nothing expires in between).
REVIEW_TIMEOUT = timedelta(days=2)
log = logging.getLogger(__name__)


class StoryboardReview(ApprovalOperator):
    """
    The review of a planned storyboard: the form's ``storyboard`` field starts as the plan wrote it.

    :param storyboard: the plan's storyboard (templated: the plan task's XCom).
    """

    template_fields = (*ApprovalOperator.template_fields, "storyboard")
    template_fields_renderers = {"storyboard": "json"}

    def __init__(self, *, storyboard: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.storyboard = storyboard

    def execute(self, context: Any) -> Any:
        self.params[STORYBOARD_KEY] = self.storyboard  # the form opens on the storyboard as planned
        return super().execute(context)


def _review_body() -> str:
    """The Markdown a reviewer reads above the form (Jinja, rendered when the review starts)."""
    storyboard = f"ti.xcom_pull(task_ids='plan', key='{STORYBOARD_KEY}')"
    return "\n".join(
        [
            f"**{{{{ {storyboard}['title'] }}}}** (recipe `{RECIPE}`, brief: {{{{ params.brief }}}})",
            "",
            f"{{% for scene in {storyboard}['scenes'] %}}",
            "{{ loop.index }}. *{{ scene['narration'] }}* (caption: {{ scene['caption'] }},"
            " {{ scene['duration_seconds'] }} s)",
            "{% endfor %}",
            "",
            "Edit the storyboard below if need be. **Approve** renders it (a paid job); **Reject** renders nothing.",
        ]
    )


@dag(
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["example", "empiriolabs", "compose"],
    params={
        "brief": Param("A travel mug that keeps coffee hot for 12 hours, for commuters", type="string", minLength=1),
        "product_image": Param("https://example.com/mug.jpg", type="string", pattern="^https?://"),
        "scene_count": Param(3, type="integer", minimum=1, maximum=12),
        "destination": Param("file:///tmp/empiriolabs-compose/", type="string"),
    },
    doc_md=__doc__,
)
def example_empiriolabs_compose() -> None:
    # [START howto_compose_plan]
    plan = EmpirioLabsComposeOperator(
        task_id="plan",
        recipe=RECIPE,
        mode="plan",
        brief="{{ params.brief }}",
        product_image="{{ params.product_image }}",
        scene_count="{{ params.scene_count }}",
        aspect_ratio="9:16",
        deferrable=True,
        poll_interval=10,
    )
    # [END howto_compose_plan]

    # [START howto_compose_review]
    review = StoryboardReview(
        task_id="review",
        storyboard=plan.output[STORYBOARD_KEY],
        subject="Render this storyboard?",
        body=_review_body(),
        params={STORYBOARD_KEY: Param(None, type=["null", "object"], description="The storyboard to render")},
        response_timeout=REVIEW_TIMEOUT,
    )

    @task
    def approved_storyboard(answer: dict[str, Any]) -> dict[str, Any]:
        """The storyboard as the reviewer left it in the form, checked before the render is paid for."""
        edited = (answer.get("params_input") or {}).get(STORYBOARD_KEY)
        if not isinstance(edited, dict):
            raise AirflowFailException("the review's storyboard is empty: nothing to render")
        try:  # the render's own rules: a bad edit fails here, naming the field, before anything is paid
            request = ComposeRequest.build(recipe=RECIPE, mode="render", storyboard=edited)
        except EmpirioLabsRequestError as error:
            raise AirflowFailException(f"the reviewed storyboard cannot be rendered: {error}") from None
        scenes = len(request.storyboard.scenes) if request.storyboard else 0
        log.info("Rendering %d scene(s) as approved by %s", scenes, answer.get("responded_by_user"))
        return edited

    approved = approved_storyboard(review.output)
    # [END howto_compose_review]

    # [START howto_compose_render]
    render = EmpirioLabsComposeOperator(
        task_id="render",
        recipe=RECIPE,
        mode="render",
        storyboard=approved,
        deferrable=True,
        poll_interval=10,
    )
    EmpirioLabsToObjectStorageOperator(
        task_id="store",
        output_urls=render.output,
        destination="{{ params.destination }}",
    )
    # [END howto_compose_render]


example_empiriolabs_compose()
