"""
Any answer to a held image request is read wholly or refused with ``ValueError``, and nothing else.

The billed POST's answer is parsed by :meth:`HeldAnswer.from_api`: an answer it cannot read becomes
"outcome unknown" (never resent), so it must never raise another type, never accept a URL that is
not http(s) nor bytes that are not an image, and keep every image of an answer it accepts.
"""

from __future__ import annotations

import base64
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_empiriolabs.models.image_request import HeldAnswer
from airflow_provider_empiriolabs.models.text import is_http_url
from airflow_provider_empiriolabs.testing.image import png_bytes
from airflow_provider_empiriolabs.transfers._body import sniff_container

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
_URLS = st.sampled_from(
    [
        "https://cdn.example/a.png?sig=1",
        "http://127.0.0.1:9/v1/outputs/j/0.png",
        "javascript:alert(1)",
        "file:///etc/passwd",
        "https://exa mple/x",
        "",
        "s3://bucket/key",
    ]
)
_B64 = st.one_of(
    st.builds(lambda seed: base64.b64encode(png_bytes(seed)).decode(), st.text(max_size=8)),
    st.binary(max_size=64).map(lambda b: base64.b64encode(b).decode()),
    st.text(max_size=40),
    st.just(base64.b64encode(b"<html><script>alert(1)</script></html>").decode()),
)
_ITEM = st.one_of(
    st.fixed_dictionaries({"url": _URLS}),
    st.fixed_dictionaries({"b64_json": _B64}),
    st.fixed_dictionaries({"url": _URLS, "b64_json": _B64}),
    _JSON,
)
_ANSWER = st.one_of(
    st.fixed_dictionaries(
        {"data": st.lists(_ITEM, max_size=5)}, optional={"usage": _JSON, "created": _JSON, "job_id": _JSON}
    ),
    st.fixed_dictionaries({"job_id": st.text(max_size=140)}),
    _JSON,
)


@settings(max_examples=400, deadline=None)
@given(answer=_ANSWER)
def test_a_held_answer_is_read_wholly_or_refused_with_value_error(answer: Any) -> None:
    try:
        read = HeldAnswer.from_api(answer)
    except ValueError:
        return
    if read.job_id is not None:  # a job after all: its id is a safe one, and nothing else was taken
        assert not read.urls and not read.images
        return
    data = answer["data"]
    assert len(read.urls) + len(read.images) == len(data)  # every image kept, none invented
    assert all(is_http_url(url) for url in read.urls)
    assert all(sniff_container(image[:12]) in ("png", "jpeg", "webp") for image in read.images)
