from datetime import datetime

from airflow.sdk import Param, dag

from airflow_provider_empiriolabs.operators.empiriolabs import EmpirioLabsGenerateVideoOperator
from airflow_provider_empiriolabs.transfers.empiriolabs_to_object_storage import (
    EmpirioLabsToObjectStorageOperator,
)


@dag(schedule=None, start_date=datetime(2026, 1, 1), catchup=False, params={"destination": Param(type="string")})
def my_video_dag():
    generate = EmpirioLabsGenerateVideoOperator(
        task_id="generate_video", prompt="A grey horse in the snow", duration=5, max_cost_usd=1.00
    )
    EmpirioLabsToObjectStorageOperator(
        task_id="store_video", output_urls=generate.output, destination="{{ params.destination }}"
    )


my_video_dag()
