# [START my_daily_videos]
# dags/my_daily_videos.py
from datetime import datetime

from airflow.sdk import Param, dag, task, task_group

from airflow_provider_empiriolabs.operators.empiriolabs import EmpirioLabsGenerateVideoOperator
from airflow_provider_empiriolabs.transfers.empiriolabs_to_object_storage import (
    EmpirioLabsToObjectStorageOperator,
)


@dag(
    schedule="@daily",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    params={
        "destination": Param("file:///tmp/my-videos/", type="string"),  # or s3://aws_default@bucket/videos/
        "stills": Param([], type="array"),  # images to animate: URLs or storage paths
        "duration": Param(5, type="integer", minimum=3, maximum=15),
    },
)
def my_daily_videos():
    @task
    def todays_prompts(ds=None) -> list[str]:
        return [f"A grey horse in the snow, {ds}", f"A chestnut horse on a beach, {ds}"]

    # One prompt, one group: generate then store. A refused prompt fails its own group only.
    @task_group
    def text_to_video(prompt: str):
        video = EmpirioLabsGenerateVideoOperator(
            task_id="generate",
            prompt=prompt,
            duration="{{ params.duration }}",  # every request field takes a template
            max_cost_usd=2.00,
            poll_interval=10,  # the longest a finished video waits to be seen
        )
        EmpirioLabsToObjectStorageOperator(
            task_id="store", output_urls=video.output, destination="{{ params.destination }}t2v/"
        )

    @task_group
    def image_to_video(still: str):
        video = EmpirioLabsGenerateVideoOperator(
            task_id="generate",
            prompt="The horse turns its head and the wind lifts its mane",
            images=[still],
            mode="i2v",
            max_cost_usd=2.00,
            poll_interval=10,  # the longest a finished video waits to be seen
        )
        EmpirioLabsToObjectStorageOperator(
            task_id="store", output_urls=video.output, destination="{{ params.destination }}i2v/"
        )

    # The decorator: the function returns the request's fields.
    @task.empiriolabs_video(duration=5, max_cost_usd=1.00, poll_interval=10)
    def teaser(ds=None) -> dict:
        return {"prompt": f"A foal running across a meadow, {ds}", "seed": 7}

    @task
    def todays_stills(params=None) -> list[str]:
        return params["stills"]

    text_to_video.expand(prompt=todays_prompts())
    image_to_video.expand(still=todays_stills())
    EmpirioLabsToObjectStorageOperator(
        task_id="store_teaser", output_urls=teaser(), destination="{{ params.destination }}teaser/"
    )


my_daily_videos()
# [END my_daily_videos]
