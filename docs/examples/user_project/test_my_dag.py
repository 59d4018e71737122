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


# [START test_my_daily_videos]
def test_my_daily_videos_store_every_video_once(empiriolabs_connection, tmp_path):
    still = tmp_path / "still.png"
    still.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))  # a PNG's signature: enough for the simulator
    out = tmp_path / "out"
    dag = DagBag(DAGS).get_dag("my_daily_videos")
    run = dag.test(run_conf={"destination": f"file://{out}/", "stills": [str(still)], "duration": 4})

    assert run.state == "success"
    assert empiriolabs_connection.stats()["posts"] == 4  # 2 text-to-video, 1 image-to-video, 1 teaser
    assert len(list((out / "t2v").rglob("*.mp4"))) == 2
    assert len(list((out / "i2v").rglob("*.mp4"))) == 1
    assert len(list((out / "teaser").rglob("*.mp4"))) == 1


# [END test_my_daily_videos]


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
