"""
``@task.empiriolabs_video``: a TaskFlow function that writes the prompt, a video operator that pays for it.

The function runs in the worker and returns the prompt (a string) or the request's fields (a
dict); the rest is :class:`~airflow_provider_empiriolabs.operators.empiriolabs.EmpirioLabsGenerateVideoOperator`
unchanged: the decorator's keyword arguments are the operator's, validated when the DAG is parsed,
and a retry reattaches to the job an earlier try paid for, whatever the function returns the second
time. What the function returned is carried across a deferral, so the triggerer's answer is matched
with the request that was sent, without calling the function again.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk.bases.decorator import DecoratedOperator, TaskDecorator, task_decorator_factory
from airflow.sdk.definitions._internal.types import SET_DURING_EXECUTION
from airflow.sdk.definitions.context import context_merge

from airflow_provider_empiriolabs._outcome import task_outcome
from airflow_provider_empiriolabs.exceptions import EmpirioLabsRequestError
from airflow_provider_empiriolabs.models import VideoRequest, request_fields
from airflow_provider_empiriolabs.operators.empiriolabs import EmpirioLabsGenerateVideoOperator

if TYPE_CHECKING:
    from airflow.sdk import Context
    from airflow.triggers.base import BaseTrigger

__all__ = ["REQUEST_FIELDS", "empiriolabs_video_task"]

#: What the function's dict may set: the request model's fields (the operator's arguments of the same names).
REQUEST_FIELDS: tuple[str, ...] = request_fields(VideoRequest)

#: The key under which the function's answer rides along a deferral (in the task's next_kwargs).
_CARRIED = "taskflow_request_fields"


def request_fields_from(returned: Any, *, task_id: str, allowed: Collection[str] = REQUEST_FIELDS) -> dict[str, Any]:
    """
    The request fields a TaskFlow function returned, refused with a message that says what is allowed.

    :param returned: a non-empty prompt string, or a dict of :data:`REQUEST_FIELDS` holding a prompt.
    :param task_id: the task, named in the message (the function's name unless ``task_id`` was given).
    :param allowed: the fields the dict may set: the operator's request model's.
    """
    where = f"@task.empiriolabs_video task {task_id!r}"
    if isinstance(returned, str):
        fields: dict[str, Any] = {"prompt": returned}
    elif isinstance(returned, Mapping):
        fields = dict(returned)
        unknown = sorted(str(key) for key in fields if key not in allowed)
        if unknown:
            close = [match for key in unknown for match in difflib.get_close_matches(key, allowed, n=1)]
            hint = f" (did you mean {', '.join(map(repr, close))}?)" if close else ""
            raise TypeError(
                f"{where}: the function returned unknown field(s) {unknown}{hint}; allowed: {', '.join(allowed)}"
            )
    else:
        raise TypeError(
            f"{where}: the function must return the prompt (a str) or a dict of request fields "
            f"({', '.join(allowed)}); it returned {type(returned).__name__}"
        )
    prompt = fields.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise TypeError(f"{where}: the prompt the function returned must be a non-empty str (got {prompt!r})")
    return fields


class _EmpirioLabsVideoDecoratedOperator(DecoratedOperator, EmpirioLabsGenerateVideoOperator):
    """
    Calls the function for the request's fields, then runs the video operator on them.

    :param python_callable: returns the prompt or a dict of request fields.
    :param op_args: positional arguments for the function (templated, XComArgs resolved).
    :param op_kwargs: keyword arguments for the function (templated, XComArgs resolved).
    """

    template_fields: Sequence[str] = (
        *DecoratedOperator.template_fields,
        *EmpirioLabsGenerateVideoOperator.template_fields,
    )
    template_fields_renderers: ClassVar[dict[str, str]] = {**DecoratedOperator.template_fields_renderers}
    custom_operator_name: str = "@task.empiriolabs_video"

    def __init__(
        self,
        *,
        python_callable: Callable[..., Any],
        op_args: Collection[Any] | None = None,
        op_kwargs: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        # The prompt is only known when the function runs: a run-time value, so parse-time
        # validation gives it a stand-in and checks every literal argument as the operator does.
        kwargs.setdefault("prompt", SET_DURING_EXECUTION)
        super().__init__(python_callable=python_callable, op_args=op_args, op_kwargs=op_kwargs, **kwargs)
        self._returned_fields: dict[str, Any] | None = None

    def _apply(self, fields: dict[str, Any]) -> None:
        for name, value in fields.items():
            setattr(self, name, value)
        self._returned_fields = fields
        self.__dict__.pop("request", None)  # built from these fields on first use

    def _call_function(self, context: Context) -> dict[str, Any]:
        context_merge(context, self.op_kwargs)
        returned = self.python_callable(*self.op_args, **self.determine_kwargs(context))
        with task_outcome():  # the same function returns the same thing: a retry cannot help
            try:
                return request_fields_from(returned, task_id=self.task_id, allowed=request_fields(self.request_model))
            except TypeError as error:
                raise EmpirioLabsRequestError(str(error)) from None

    def execute(self, context: Context) -> Any:
        if self._returned_fields is None:  # set already when resumed after a rate-limit wait
            fields = self._call_function(context)
            self._apply(fields)
            store = context.get("task_state_store")
            try:  # for resuming after a deferral where the carried kwargs are lost (``dag.test()``)
                if store is not None:
                    store.set(_CARRIED, fields)
            except Exception as error:
                self.log.warning("Could not keep the function's request fields in the task state store: %s", error)
        return super().execute(context)

    def defer(
        self,
        *,
        trigger: BaseTrigger,
        method_name: str,
        kwargs: dict[str, Any] | None = None,
        timeout: Any = None,
    ) -> Any:
        """Defer as the operator does, carrying what the function returned to the resumed task."""
        carried = {**(kwargs or {}), _CARRIED: self._returned_fields}
        return super().defer(trigger=trigger, method_name=method_name, kwargs=carried, timeout=timeout)

    def resume_execution(self, next_method: str, next_kwargs: dict[str, Any] | None, context: Context) -> Any:
        """
        Resume with the fields the function returned before the deferral, without calling it again.

        They ride along in the deferral's kwargs; ``dag.test()`` keeps only the trigger's event
        there, so the task state store holds them too. Only if both lost them is the function called.
        """
        next_kwargs = dict(next_kwargs or {})
        fields = next_kwargs.pop(_CARRIED, None)
        if not isinstance(fields, dict):
            store = context.get("task_state_store")
            fields = store.get(_CARRIED) if store is not None else None
        if not isinstance(fields, dict):
            self.log.warning("The request fields of the deferred try are lost: calling the function again")
            fields = self._call_function(context)
        self._apply(fields)
        return super().resume_execution(next_method, next_kwargs, context)


def empiriolabs_video_task(python_callable: Callable[..., Any] | None = None, **kwargs: Any) -> TaskDecorator:
    """
    Turn a function that returns a prompt (or request fields) into a video generation task.

    Registered as ``@task.empiriolabs_video`` through the provider info's ``task-decorators``.
    Keyword arguments are :class:`EmpirioLabsGenerateVideoOperator`'s (``resolution``, ``duration``,
    ``deferrable``, ``max_cost_usd``...) and the usual task arguments; the task returns what the
    operator returns (the video's summary, or the job id with ``wait_for_completion=False``) and
    pushes the same ``job_id`` and ``job_url`` XComs. The returned summary is one XCom:
    ``multiple_outputs`` is off unless asked for, whatever the function's return annotation says.

    :param python_callable: the function; its return value is the prompt (a ``str``) or a dict of
        :data:`REQUEST_FIELDS`, which override the decorator's arguments of the same names.
    """
    kwargs.setdefault("multiple_outputs", False)
    return task_decorator_factory(
        python_callable=python_callable,
        decorated_operator_class=_EmpirioLabsVideoDecoratedOperator,
        **kwargs,
    )
