"""
The redaction rules live in ``redaction.py`` and every path uses them: one mask, one scrub, one URL rule.

The hook's errors, the shared budget's Redis warning and the HTTP log filter put the same
:data:`~airflow_provider_empiriolabs.redaction.MASK` where a secret was; reference images and
signed output URLs are shown by the same :func:`~airflow_provider_empiriolabs.redaction.redact_url`.
"""

from __future__ import annotations

import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from airflow_provider_empiriolabs.hooks._redis_store import RedisBackend, RedisSettings
from airflow_provider_empiriolabs.hooks._responses import error_for
from airflow_provider_empiriolabs.redaction import MASK, redact_log_text, redact_url, register_secret, scrub

KEY = "sk-empiriolabs-RULES-0123456789abcdef"


def test_logged_locations_lose_passwords_and_signatures() -> None:
    # Moved with the reference images' own rule (operators/_reference_images.redact_location), folded here.
    assert redact_url("s3://user:hunter2@bucket/k.png", keep_user=True) == "s3://user@bucket/k.png"
    assert redact_url("https://cdn.example/x.png?sig=abc&exp=1", keep_user=True) == "https://cdn.example/x.png"
    assert redact_url("s3://conn@bucket/k.png", keep_user=True) == "s3://conn@bucket/k.png"


def test_a_signed_url_loses_its_user_unless_asked() -> None:
    assert redact_url("https://user:pw@cdn.example/x.mp4?signature=s") == "https://cdn.example/x.mp4"
    assert (
        redact_url("https://user:pw@cdn.example:8443/x.mp4#f", keep_user=True) == "https://user@cdn.example:8443/x.mp4"
    )


_PART = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=12)


@given(user=_PART, password=_PART, query=_PART, fragment=_PART, keep_user=st.booleans())
def test_no_password_query_or_fragment_is_ever_shown(
    user: str, password: str, query: str, fragment: str, keep_user: bool
) -> None:
    secret = f"PW{password}"
    url = f"s3://{user}:{secret}@bucket/k.png?sig=Q{query}#F{fragment}"
    shown = redact_url(url, keep_user=keep_user)
    assert secret not in shown and f"Q{query}" not in shown and f"F{fragment}" not in shown
    assert shown.startswith(f"s3://{user}@" if keep_user else "s3://bucket")


def test_scrub_masks_every_occurrence_then_cuts() -> None:
    assert scrub(f"a {KEY} b {KEY}", KEY) == f"a {MASK} b {MASK}"
    assert scrub("x" * 50, KEY, limit=10) == "x" * 10 + "..."
    assert scrub(f"{KEY}{'x' * 50}", KEY, limit=len(MASK)) == MASK + "..."  # cut after the key is gone
    assert scrub("nothing", "") == "nothing"


def test_the_hook_masks_the_key_as_the_log_filter_does() -> None:
    error = error_for(401, "Unauthorized", {}, f'{{"error": {{"message": "bad key {KEY}"}}}}'.encode(), KEY)
    register_secret(KEY)
    assert str(error).count(MASK) == 1 and KEY not in str(error)
    assert redact_log_text(f"bad key {KEY}") == f"bad key {MASK}"


def test_the_redis_warning_masks_the_password_with_the_same_mask(caplog: pytest.LogCaptureFixture) -> None:
    password = "redis-pw-0123456789"
    backend = RedisBackend(RedisSettings(host="127.0.0.1", port=1, password=password))
    with caplog.at_level(logging.WARNING, logger="airflow_provider_empiriolabs.hooks.shared_budget"):
        backend._failed(ConnectionError(f"AUTH {password} refused"))
    assert password not in caplog.text
    assert f"AUTH {MASK} refused" in caplog.text
