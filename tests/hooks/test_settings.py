"""
The hook's connection: what it reads and refuses (``hooks/_settings.py``); respx, no network.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

import pytest
import respx

from airflow_provider_empiriolabs.exceptions import (
    EmpirioLabsAuthenticationError,
)
from airflow_provider_empiriolabs.hooks.empiriolabs import (
    DEFAULT_BASE_URL,
    EmpirioLabsHook,
)
from tests.hooks.support import BASE, JOB, KEY

if TYPE_CHECKING:
    from collections.abc import Callable


# ---------------------------------------------------------------------------------------------
# Connection
# ---------------------------------------------------------------------------------------------


class TestConnection:
    @pytest.mark.parametrize(
        ("fields", "base_url"),
        [
            ({"host": "api.example.com"}, "https://api.example.com"),
            ({"host": "https://api.example.com/"}, "https://api.example.com"),
            ({"host": "http://127.0.0.1:8080"}, "http://127.0.0.1:8080"),
            ({"host": "http://127.0.0.1", "port": 8080}, "http://127.0.0.1:8080"),
            ({"host": "127.0.0.1", "port": 9000, "schema": "http"}, "http://127.0.0.1:9000"),
            ({}, DEFAULT_BASE_URL),
            ({"host": "  "}, DEFAULT_BASE_URL),
        ],
    )
    def test_base_url(self, set_conn: Callable[..., None], fields: dict[str, Any], base_url: str) -> None:
        set_conn(password=KEY, **fields)
        assert EmpirioLabsHook().base_url == base_url

    def test_default_base_url_is_the_documented_one(self) -> None:
        assert DEFAULT_BASE_URL == "https://api.empiriolabs.ai"

    def test_host_without_scheme_is_called_over_https(self, set_conn: Callable[..., None]) -> None:
        set_conn(host="api.example.com", password=KEY)
        with respx.mock(assert_all_called=True) as router:
            route = router.get("https://api.example.com/v1/jobs/job_1").respond(200, json=JOB)
            EmpirioLabsHook().get_job("job_1")
        assert route.call_count == 1

    def test_defaults(self, unit_conn: None) -> None:
        settings = EmpirioLabsHook().settings
        assert settings.timeout == 30
        assert settings.requests_per_minute == 50

    @pytest.mark.parametrize(
        "extra",
        [
            {"timeout": 12, "requests_per_minute": 20},
            {"timeout": "12", "requests_per_minute": "20"},
        ],
    )
    def test_extras(self, set_conn: Callable[..., None], extra: dict[str, Any]) -> None:
        set_conn(host=BASE, password=KEY, extra=extra)
        hook = EmpirioLabsHook()
        assert hook.settings.timeout == 12
        assert hook.settings.requests_per_minute == 20
        assert hook.get_conn().timeout.read == 12
        assert hook.budget.requests_per_minute == 20, "the account's request budget follows the extra"

    def test_extras_as_a_json_string(self, set_conn: Callable[..., None]) -> None:
        set_conn(host=BASE, password=KEY, extra=json.dumps({"timeout": 9}))
        assert EmpirioLabsHook().settings.timeout == 9

    def test_hook_timeout_overrides_the_connection(self, set_conn: Callable[..., None]) -> None:
        set_conn(host=BASE, password=KEY, extra={"timeout": 12, "requests_per_minute": 20})
        hook = EmpirioLabsHook(timeout=3)
        assert hook.settings.timeout == 3
        assert hook.settings.requests_per_minute == 20
        assert hook.get_conn().timeout.read == 3

    def test_other_conn_id(self, set_conn: Callable[..., None]) -> None:
        set_conn("my_video_api", host="http://10.0.0.1:1234", password=KEY)
        assert EmpirioLabsHook("my_video_api").base_url == "http://10.0.0.1:1234"

    @pytest.mark.parametrize("fields", [{"host": BASE}, {"host": BASE, "password": ""}])
    def test_missing_password(self, set_conn: Callable[..., None], fields: dict[str, Any]) -> None:
        set_conn("no_key", **fields)
        hook = EmpirioLabsHook("no_key")
        with pytest.raises(EmpirioLabsAuthenticationError, match=r"'no_key' has no API key.*password"):
            hook.get_job("job_1")

    def test_missing_password_async(self, set_conn: Callable[..., None]) -> None:
        set_conn("no_key", host=BASE)
        with pytest.raises(EmpirioLabsAuthenticationError, match="password"):
            asyncio.run(EmpirioLabsHook("no_key").aget_job("job_1"))

    def test_missing_password_fails_test_connection(self, set_conn: Callable[..., None]) -> None:
        set_conn("no_key", host=BASE)
        ok, message = EmpirioLabsHook("no_key").test_connection()
        assert ok is False
        assert "no API key" in message

    def test_hook_metadata(self) -> None:
        assert EmpirioLabsHook.conn_type == "empiriolabs"
        assert EmpirioLabsHook.default_conn_name == "empiriolabs_default"
        assert EmpirioLabsHook.conn_name_attr == "empiriolabs_conn_id"
