"""Apache Airflow provider for the EmpirioLabs generative-media API."""

from __future__ import annotations

__version__ = "0.1.0"

# Records of the HTTP libraries' loggers (httpx, httpcore, urllib3, botocore...) are redacted in
# any process that imports the provider: signed URLs, cookies and keys never reach a log, at any
# level. Installed once; cheap (the standard library only).
from airflow_provider_empiriolabs.redaction import install_http_log_redaction as _install

_install()
