"""
Who may see what in the EmpirioLabs view: Airflow's auth manager decides, per DAG.

A plugin's FastAPI app is mounted beside Airflow's API without its security dependencies, so
every route of the view depends on :func:`current_user` (the same JWT, from the
``Authorization: Bearer`` header or the UI's ``_token`` cookie, that Airflow's own API reads) and
asks the auth manager before reading a DAG's runs, XComs or videos.
"""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException, Request, status

__all__ = ["current_user", "readable_dag_ids", "require_dag_read"]


async def current_user(request: Request) -> Any:
    """
    The signed-in user, as Airflow's own API resolves it; 401 without a credential, 403 if invalid.

    :param request: the incoming request (a bearer token wins over the UI's ``_token`` cookie, and
        a user Airflow's token-refresh middleware already resolved is taken as it is).
    """
    from airflow.api_fastapi.core_api.security import get_user
    from fastapi.security import HTTPAuthorizationCredentials

    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    bearer = (
        HTTPAuthorizationCredentials(scheme=scheme, credentials=token.strip())
        if scheme.lower() == "bearer" and token.strip()
        else None
    )
    return await get_user(request, None, bearer)


def _auth_manager() -> Any:
    from airflow.api_fastapi.app import get_auth_manager

    return get_auth_manager()


def require_dag_read(user: Any, dag_id: str) -> None:
    """
    Refuse (404, as if it did not exist) a DAG whose runs and XComs the user may not read.

    :param user: from :func:`current_user`.
    :param dag_id: the DAG asked for.
    """
    from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity, DagDetails
    from airflow.models.dag import DagModel

    manager = _auth_manager()
    details = DagDetails(id=dag_id, team_name=DagModel.get_team_name(dag_id))
    allowed = all(
        manager.is_authorized_dag(method="GET", access_entity=entity, details=details, user=user)
        for entity in (DagAccessEntity.RUN, DagAccessEntity.XCOM)
    )
    if not allowed:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such DAG run, or you may not read it")


def readable_dag_ids(user: Any) -> set[str]:
    """
    The DAGs whose runs and XComs the user may read (the spend page counts only these).

    :param user: from :func:`current_user`.
    """
    from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity, DagDetails

    manager = _auth_manager()
    dag_ids = manager.get_authorized_dag_ids(user=user, method="GET")
    return {
        dag_id
        for dag_id in dag_ids
        if manager.is_authorized_dag(
            method="GET", access_entity=DagAccessEntity.XCOM, details=DagDetails(id=dag_id), user=user
        )
    }
