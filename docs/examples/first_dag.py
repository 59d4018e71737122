"""The README's first DAG: one video, generated then stored (``tests/docs`` runs it on ``dag.test()``)."""

# [START first_dag]
from datetime import datetime

from airflow.sdk import Param, dag

from airflow_provider_empiriolabs.operators.empiriolabs import EmpirioLabsGenerateVideoOperator
from airflow_provider_empiriolabs.transfers.empiriolabs_to_object_storage import (
    EmpirioLabsToObjectStorageOperator,
)


@dag(
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    params={"destination": Param("file:///data/videos/", type="string")},
)
def horse_video():
    generate = EmpirioLabsGenerateVideoOperator(
        task_id="generate_video",
        prompt="A chestnut horse galloping along a misty beach at sunrise, slow motion",
        duration=5,
        resolution="720p",
        deferrable=True,
        max_cost_usd=1.00,
    )
    EmpirioLabsToObjectStorageOperator(
        task_id="store_video",
        output_urls=generate.output,
        destination="{{ params.destination }}",
    )


horse_video()
# [END first_dag]
