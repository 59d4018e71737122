"""
The API key read from a connection is masked in HTTP libraries' log records by the provider itself.

Which layer the promise rests on: Airflow's secrets masker learns a connection's password when a
task fetches the connection through the task SDK, and masks it in what goes through Airflow's
task-log processors. HTTP libraries log through the standard ``logging`` module, in processes and
handlers that pipeline does not cover (the triggerer's and the API server's own loggers, a
deployment's logging config, a connection built in code or read from the environment by the
hook). The provider's :func:`~airflow_provider_empiriolabs.redaction.register_secret`, called when
the hook reads its connection, is what masks the key there; the shape rules (``Bearer ...``,
``sk-empiriolabs-...``, credential headers) cover only the shapes they know. So the test uses a
key that no shape rule matches, logged in no header: only the registration can mask it.
"""

from __future__ import annotations

import logging
import secrets

import pytest

from airflow_provider_empiriolabs.hooks.empiriolabs import EmpirioLabsHook
from airflow_provider_empiriolabs.testing.server import connection_json


@pytest.mark.parametrize("logger_name", ["httpx", "httpcore.http11", "urllib3.connectionpool", "botocore.endpoint"])
def test_a_key_read_by_the_hook_is_masked_in_every_http_log_record_at_debug(
    logger_name: str, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = f"acct-{secrets.token_hex(20)}"  # a key of no known shape: no rule knows it
    monkeypatch.setenv("AIRFLOW_CONN_EL_ANY_SHAPE", connection_json("https://api.empiriolabs.test", key))
    hook = EmpirioLabsHook("el_any_shape")
    try:
        assert hook.settings.api_key == key  # the hook has read the connection
    finally:
        hook.close()

    caplog.set_level(logging.DEBUG, logger=logger_name)
    logging.getLogger(logger_name).debug("echo of the request: %s (%r)", key, key.encode())

    [record] = [r for r in caplog.records if r.name == logger_name]
    assert key not in record.getMessage()
    assert key not in caplog.text
    assert "echo of the request" in record.getMessage()  # masked in place, not dropped
