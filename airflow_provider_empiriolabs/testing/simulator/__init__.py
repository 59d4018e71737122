"""A local, independent implementation of the EmpirioLabs API, for tests and benchmarks.

Why Starlette on uvicorn (uvloop + httptools): the simulator must later carry a load benchmark of
thousands of job polls per minute, plus multi-GB streamed downloads, on a 2-core machine, without
becoming the bottleneck it is meant to measure. Starlette and uvicorn with uvloop and httptools
already ship with Airflow 3 (its API server runs on them), so the simulator costs the provider no
extra dependency, and being asyncio-native it serves slow polls, delayed responses and large
streams concurrently from one thread with no thread-per-request overhead.

Why an independent implementation: the simulator never imports the provider's hooks, models or
Airflow. It re-states the API from ``empiriolabs-api.md`` so that a client mistake (a wrong field
name, a resubmitted POST, a poll storm, an ignored ``Retry-After``) shows up as a failing test
instead of being mirrored by shared code. The exception is the model spec files: a model with one
is checked and billed by the same file the provider reads (:mod:`.validation`), and the files are
checked against the model pages by hand-typed tables in the tests.

Time is *simulated*: ``time_scale`` simulated seconds pass per real second, so a 50 s render, a
60 s rate-limit window or a 1 h retention can be crossed in a test within a second or two. Every
timestamp the API shows (``created_at``, URL ``expires``) is on this simulated clock, which starts
at the real wall-clock time.

The package is split by reason to change: :mod:`.catalogue` (models, prices, parameters),
:mod:`.validation` (request checks and the error envelope), :mod:`.jobs` (job state, the clock,
render timing, progress), :mod:`.faults` (scripted faults, outage, random 5xx, rate limit),
:mod:`.knobs` (every knob, its default and its check), :mod:`.state` (the state object),
:mod:`.gateway` (the ASGI edge) and :mod:`.routes` (the HTTP app). Every name below is importable
from here as it was from the single module.
"""

from __future__ import annotations

from airflow_provider_empiriolabs.testing.simulator._common import ASGIApp, Message, Receive, Scope, Send, iso
from airflow_provider_empiriolabs.testing.simulator.catalogue import (
    DEFAULT_API_KEY,
    DEFAULT_FAILING_PROMPTS,
    MODELS,
    SimulatedModel,
)
from airflow_provider_empiriolabs.testing.simulator.faults import Decision, normalize_fault
from airflow_provider_empiriolabs.testing.simulator.gateway import Gateway
from airflow_provider_empiriolabs.testing.simulator.jobs import Job, SimClock, Upload
from airflow_provider_empiriolabs.testing.simulator.knobs import DEFAULT_KNOBS, KNOBS, PROGRESS_MODES, PROGRESS_STEPS
from airflow_provider_empiriolabs.testing.simulator.routes import build_routes, create_app
from airflow_provider_empiriolabs.testing.simulator.state import SimulatorState
from airflow_provider_empiriolabs.testing.simulator.validation import ApiError, validate_generation

__all__ = [
    "DEFAULT_API_KEY",
    "DEFAULT_FAILING_PROMPTS",
    "DEFAULT_KNOBS",
    "KNOBS",
    "MODELS",
    "PROGRESS_MODES",
    "PROGRESS_STEPS",
    "ASGIApp",
    "ApiError",
    "Decision",
    "Gateway",
    "Job",
    "Message",
    "Receive",
    "Scope",
    "Send",
    "SimClock",
    "SimulatedModel",
    "SimulatorState",
    "Upload",
    "build_routes",
    "create_app",
    "iso",
    "normalize_fault",
    "validate_generation",
]
