# [START test_my_dag]
# test_my_dag.py
from pathlib import Path

from airflow.dag_processing.dagbag import DagBag

DAGS = Path(__file__).parent / "dags"


def test_my_dag_pays_once(empiriolabs_connection, tmp_path):
    dag = DagBag(DAGS).get_dag("my_video_dag")
    run = dag.test(run_conf={"destination": f"file://{tmp_path}/"})

    assert run.state == "success"
    stats = empiriolabs_connection.stats()
    assert stats["posts"] == 1  # one paid job
    assert list(tmp_path.rglob("*.mp4"))


# [END test_my_dag]


def test_faults_on_demand(empiriolabs_connection):
    from airflow_provider_empiriolabs.hooks.empiriolabs import EmpirioLabsHook
    from airflow_provider_empiriolabs.models import VideoRequest

    job_id = EmpirioLabsHook().submit_video(VideoRequest.build(prompt="A horse"))
    # [START faults]
    sim = empiriolabs_connection
    sim.configure(fail_next_requests=[{"match": "post", "status": 503, "count": 2}])  # then accepted
    sim.configure(rate_limit_rpm=5)  # tight budget
    sim.configure(failing_prompts={"forbidden": "content_policy_violation"})  # a failing job
    sim.expire_job(job_id)  # past retention
    # [END faults]
    assert sim.stats()["pending_faults"] == 2
