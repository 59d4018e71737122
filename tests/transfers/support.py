"""Helpers of the transfer tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException


class Caught:
    """What :func:`raises_final` caught: ``value`` is the provider's error (the ``AirflowFailException``'s cause)."""

    value: Any = None


@contextmanager
def raises_final(cls: type[BaseException], match: str | None = None) -> Iterator[Caught]:
    """
    Expect the task to fail without retries because of an error of class ``cls``.

    :param cls: the provider's error, kept as the ``AirflowFailException``'s cause.
    :param match: a pattern the message must match (as ``pytest.raises``).
    """
    caught = Caught()
    with pytest.raises(AirflowFailException, match=match) as info:
        yield caught
    assert isinstance(info.value.__cause__, cls), repr(info.value.__cause__)
    caught.value = info.value.__cause__
