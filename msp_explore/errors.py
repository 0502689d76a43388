"""Every error msp_explore raises.

    MspError
    ├── ValidationError        bad argument, caught before any request is sent
    ├── ApiError               MultiSafepay (or the sandbox) answered with an error
    │   ├── AuthenticationError    401 / 403 / error_code 1032
    │   └── NotFoundError          404 / 410, error_code 1006 or 1000
    └── SignatureError         a webhook notification failed verification

Network failures from ``requests`` pass through unchanged.
"""

from __future__ import annotations

from typing import Any


class MspError(Exception):
    """Base class of every msp_explore error."""


class ValidationError(MspError, ValueError):
    """Raised when an argument breaks a rule of the API, before any request is made."""

    def __init__(self, field: str, rule: str) -> None:
        self.field = field
        self.rule = rule
        super().__init__(f"{field}: {rule}")


class ApiError(MspError):
    """Raised when the API answers with ``success: false`` or an HTTP error status."""

    def __init__(
        self,
        status_code: int,
        error_code: int | None = None,
        error_info: str = "",
        response: Any = None,
    ) -> None:
        self.status_code = status_code
        self.error_code = error_code
        self.error_info = error_info
        self.response = response
        super().__init__(str(self))

    def __str__(self) -> str:
        code = f"{self.error_code} " if self.error_code is not None else ""
        info = self.error_info or "Error"
        return f"{code}{info} (HTTP {self.status_code})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.status_code, self.error_code, self.error_info))


class AuthenticationError(ApiError):
    """Raised when the API key is missing or wrong (HTTP 401, error_code 1032)."""


class NotFoundError(ApiError):
    """Raised when the order, transaction or gateway does not exist (HTTP 404/410)."""


class SignatureError(MspError):
    """Raised when a notification's ``Auth`` header is malformed, wrong or stale."""

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason  # "malformed", "signature" or "stale"
        super().__init__(message)


# error_code first, then HTTP status: which ApiError subclass an error response becomes.
# 1006 is also a duplicate order_id (HTTP 400), so only the HTTP status says "not found".
_BY_ERROR_CODE: dict[int, type[ApiError]] = {1032: AuthenticationError}
# 403 is how GET /transactions answers a bad key: {"message": "Forbidden"}, no envelope.
_BY_STATUS: dict[int, type[ApiError]] = {
    401: AuthenticationError,
    403: AuthenticationError,
    404: NotFoundError,
    410: NotFoundError,
}


def api_error(status_code: int, body: Any, response: Any = None) -> ApiError:
    """Build the right ApiError for an error response body (an MSP envelope or ``{"message": ...}``)."""
    body = body if isinstance(body, dict) else {}
    error_code = body.get("error_code")
    error_code = error_code if isinstance(error_code, int) else None
    info = body.get("error_info") or body.get("message") or ""
    cls = _BY_ERROR_CODE.get(error_code or 0) or _BY_STATUS.get(status_code, ApiError)
    return cls(status_code, error_code, str(info), response)
