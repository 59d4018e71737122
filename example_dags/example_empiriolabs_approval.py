"""
Human approval: a generated video waits for a person in Airflow's UI before it is published.

Each round generates a video, copies it to a review folder, and asks a person (Airflow's
*Required Actions*, the standard provider's ``HITLOperator``): **Approve** publishes that video
to ``destination``; **Reject** with a note starts the next round, with a new seed and the note
appended to the prompt. At most ``max_rounds`` rounds, and never past ``budget_usd`` in all: a
round starts only if what was spent plus its estimate fits. A run that ends without an approved
video fails, saying why (every round rejected, or the budget or the rounds ran out).

Airflow DAGs are acyclic, so the rounds are unrolled: one task group per round, up to
``MAX_ROUNDS``, each opened by a short-circuit that skips the rest of the run's rounds once a video
is approved (see docs/howto/approval.rst for why not dynamic mapping or a re-triggered run).
Each round's generate task is its own task instance, so it pays exactly once, however often it is
retried; a rerun of a rejected round's prompt gets a new video because the seed differs. An
approval is bound to the video the reviewer was shown: the review records its job id, and a
round whose generate task made another video since (cleared without its review) is not approved.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from airflow.providers.standard.operators.hitl import HITLOperator
from airflow.sdk import Param, TaskGroup, dag, get_current_context, task
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_empiriolabs.models import MAX_SEED, VideoRequest
from airflow_provider_empiriolabs.operators.empiriolabs import EmpirioLabsGenerateVideoOperator
from airflow_provider_empiriolabs.transfers.empiriolabs_to_object_storage import (
    EmpirioLabsToObjectStorageOperator,
)

#: Rounds drawn in the DAG (a run may use fewer: ``max_rounds``). More rounds, more task groups.
MAX_ROUNDS = 3
#: What every round renders; only the prompt and the seed change between rounds.
VIDEO: dict[str, Any] = {"resolution": "720p", "duration": 5, "aspect_ratio": "16:9"}
#: The per-video cap the operator checks before sending (a round's estimate is $0.70).
MAX_COST_PER_VIDEO_USD = 1.00
#: Options of the review; a note is asked for beside them.
APPROVE, REJECT = "Approve", "Reject"
#: The review form's note field, under it.
NOTE_HELP = "On reject: what to change (added to the prompt)"
#: The review's XCom naming the job the reviewer was shown (an approval counts for that job only).
REVIEWED_KEY = "reviewed_job_id"
#: How long a video may wait for a person: its output URLs live 7 days, publishing needs them.
REVIEW_TIMEOUT = timedelta(days=6)
log = logging.getLogger(__name__)


def _round_id(number: int) -> str:
    return f"round_{number}"


class VideoReview(HITLOperator):
    """
    The review of one round's video, which records the job the reviewer is shown.

    :param job_id: the round's video (templated: the job of the round's generate task).
    """

    template_fields = (*HITLOperator.template_fields, "job_id")

    def __init__(self, *, job_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.job_id = job_id

    def execute(self, context: Any) -> Any:
        context["ti"].xcom_push(key=REVIEWED_KEY, value=self.job_id)  # before the person sees it
        return super().execute(context)


def _rounds_before(number: int) -> list[dict[str, Any]]:
    """What the earlier rounds of this run made and what the reviewer said (skipped rounds excluded)."""
    ti = get_current_context()["ti"]
    history = []
    for earlier in range(1, number):
        review = ti.xcom_pull(task_ids=f"{_round_id(earlier)}.review")
        reviewed = ti.xcom_pull(task_ids=f"{_round_id(earlier)}.review", key=REVIEWED_KEY)
        video = ti.xcom_pull(task_ids=f"{_round_id(earlier)}.generate")
        if video is not None:
            history.append({"round": earlier, "video": video, "review": review, "reviewed": reviewed})
    return history


def _approved(entry: dict[str, Any]) -> bool:
    """Whether the reviewer approved this round's video: the very job they were shown."""
    review = entry["review"]
    if not (isinstance(review, dict) and APPROVE in (review.get("chosen_options") or [])):
        return False
    if entry["reviewed"] != entry["video"].get("job_id"):
        log.warning(
            "Round %d: the approval was for job %s, but the round's video is now job %s (generated again "
            "after the review): not approved; clear the round's review to ask again",
            entry["round"],
            entry["reviewed"],
            entry["video"].get("job_id"),
        )
        return False
    return True


def _note(review: Any) -> str:
    note = ((review or {}).get("params_input") or {}).get("note") or ""
    return str(note).strip()


def _spent_usd(history: list[dict[str, Any]]) -> float:
    return round(sum(float(entry["video"].get("cost_usd") or 0.0) for entry in history), 2)


@task.short_circuit(multiple_outputs=True, ignore_downstream_trigger_rules=False)
def plan(number: int) -> dict[str, Any] | None:
    """
    Decide whether round ``number`` runs, and with what prompt and seed.

    Returns ``None`` (the round and every later one are skipped) once an earlier round was
    approved, past ``max_rounds``, or when the round's estimate does not fit the budget left.
    Only the directly following task is skipped here; the later rounds follow by trigger rule,
    so the final ``approved_video`` task still runs and reports the outcome.

    :param number: the round, from 1.
    """
    from airflow_provider_empiriolabs.ui.urls import run_view_path  # the provider's EmpirioLabs view

    context = get_current_context()
    params = context["params"]
    history = _rounds_before(number)
    if history and _approved(history[-1]):
        log.info("Round %d was approved: no round %d", history[-1]["round"], number)
        return None
    if number > int(params["max_rounds"]):
        log.info("max_rounds is %s: no round %d", params["max_rounds"], number)
        return None
    notes = [note for entry in history if (note := _note(entry["review"]))]
    prompt = "\n".join([params["prompt"], *notes])
    seed = (int(params["seed"]) + number - 1) % (MAX_SEED + 1)  # a new seed per round, repeatable per run
    estimate = VideoRequest.build(prompt=prompt, seed=seed, **VIDEO).estimated_cost_usd()
    if estimate is None:  # a budget that cannot be checked is not a budget
        raise AirflowFailException(f"round {number}: no price is known for {VIDEO}, so budget_usd cannot be kept")
    spent = _spent_usd(history)
    budget = float(params["budget_usd"])
    if spent + estimate > budget + 1e-9:
        log.info(
            "Round %d would cost $%.2f; $%.2f of the $%.2f budget is spent: stopping", number, estimate, spent, budget
        )
        return None
    log.info("Round %d: seed %d, estimated $%.2f, $%.2f spent so far, notes: %s", number, seed, estimate, spent, notes)
    watch = run_view_path(context["dag"].dag_id, context["run_id"], f"{_round_id(number)}.generate")
    return {"prompt": prompt, "seed": seed, "estimate_usd": estimate, "spent_usd": spent, "watch": watch}


def _review_body(group: str) -> str:
    """The Markdown a reviewer reads (Jinja, rendered when the review starts): no signed URL in it."""
    video = f"ti.xcom_pull(task_ids='{group}.generate')"
    spent = f"ti.xcom_pull(task_ids='{group}.plan', key='spent_usd')"
    return "\n".join(
        [
            "**Prompt**",
            "",
            f"> {{{{ ti.xcom_pull(task_ids='{group}.plan', key='prompt') | replace('\\n', ' / ') }}}}",
            "",
            f"- seed: {{{{ ti.xcom_pull(task_ids='{group}.plan', key='seed') }}}}",
            f"- job: `{{{{ {video}['job_id'] }}}}`, {{{{ {video}['video_seconds'] }}}} s,"
            f" ${{{{ '%.2f' | format({video}['cost_usd'] or 0) }}}}",
            f"- spent before this round: ${{{{ '%.2f' | format({spent}) }}}}"
            " of ${{ '%.2f' | format(params.budget_usd) }}",
            f"- watch it: [in the EmpirioLabs view]({{{{ ti.xcom_pull(task_ids='{group}.plan', key='watch') }}}}),"
            f" or its copy `{{{{ ti.xcom_pull(task_ids='{group}.preview') | join(', ') }}}}`",
            "",
            f"**{APPROVE}** publishes it to `{{{{ params.destination }}}}`. **{REJECT}** generates it again with a new"
            " seed and your note added to the prompt.",
        ]
    )


@dag(
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["example", "empiriolabs", "approval"],
    params={
        "prompt": Param(
            "A chestnut horse galloping along a misty beach at sunrise, slow motion, cinematic",
            type="string",
            minLength=1,
        ),
        "seed": Param(42, type="integer", minimum=0, maximum=MAX_SEED),
        "max_rounds": Param(MAX_ROUNDS, type="integer", minimum=1, maximum=MAX_ROUNDS),
        "budget_usd": Param(2.50, type="number", minimum=0, description="All rounds together, in USD"),
        "review_destination": Param("file:///tmp/empiriolabs-review/", type="string"),
        "destination": Param("file:///tmp/empiriolabs-published/", type="string"),
    },
    doc_md=__doc__,
)
def example_empiriolabs_approval() -> None:
    reviews = []
    previous: Any = None
    for number in range(1, MAX_ROUNDS + 1):
        group = _round_id(number)
        with TaskGroup(group, tooltip=f"Generate, preview and review, take {number}"):
            # [START howto_approval_round]
            planned = plan.override(task_id="plan")(number)
            generate = EmpirioLabsGenerateVideoOperator(
                task_id="generate",
                prompt=planned["prompt"],
                seed=planned["seed"],
                **VIDEO,
                deferrable=True,
                poll_interval=10,
                max_cost_usd=MAX_COST_PER_VIDEO_USD,
            )
            preview = EmpirioLabsToObjectStorageOperator(
                task_id="preview",
                output_urls=generate.output,
                destination="{{ params.review_destination }}",
                object_name=f"{group}/{{job_id}}.mp4",
                asset_alias=None,  # a draft: nothing downstream should be scheduled on it
            )
            review = VideoReview(
                task_id="review",
                job_id=f"{{{{ ti.xcom_pull(task_ids='{group}.generate')['job_id'] }}}}",
                subject=f"Publish this video? (take {number} of {{{{ params.max_rounds }}}})",
                body=_review_body(group),
                options=[APPROVE, REJECT],
                # Optional (null allowed): an approval needs no note.
                params={"note": Param(None, type=["null", "string"], description=NOTE_HELP)},
                response_timeout=REVIEW_TIMEOUT,
            )
            generate >> preview >> review
            # [END howto_approval_round]
        if previous is not None:
            previous >> planned
        previous = review
        reviews.append(review)

    @task(trigger_rule="none_failed")
    def approved_video() -> dict[str, Any]:
        """The approved round's video; fails, saying why, when no round was approved."""
        params = get_current_context()["params"]
        history = _rounds_before(MAX_ROUNDS + 1)
        for entry in history:
            if _approved(entry):
                log.info("Round %d approved: publishing job %s", entry["round"], entry["video"]["job_id"])
                return dict(entry["video"])
        raise AirflowFailException(
            f"no video was approved: {len(history)} round(s) rejected (max_rounds {params['max_rounds']}), "
            f"${_spent_usd(history):.2f} spent of the ${float(params['budget_usd']):.2f} budget"
        )

    # [START howto_approval_publish]
    approved = approved_video()
    reviews >> approved
    EmpirioLabsToObjectStorageOperator(
        task_id="publish",
        output_urls=approved,
        destination="{{ params.destination }}",
    )
    # [END howto_approval_publish]


example_empiriolabs_approval()
