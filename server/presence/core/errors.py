"""Stable error codes: a machine ``code`` plus a short human message, never internals."""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    """Error codes sent to clients (``{"type":"error","code":...}``) and REST callers."""

    BAD_FRAME = "bad_frame"
    UNKNOWN_TYPE = "unknown_type"
    INVALID_FIELD = "invalid_field"
    NOT_AUTHENTICATED = "not_authenticated"
    AUTH_FAILED = "auth_failed"
    FORBIDDEN = "forbidden"
    UNKNOWN_AGENT = "unknown_agent"
    UNKNOWN_STATUS = "unknown_status"
    STATUS_NOT_SELECTABLE = "status_not_selectable"
    NOT_CONNECTED = "not_connected"
    RATE_LIMITED = "rate_limited"
    BUSY = "busy"
    UNAVAILABLE = "unavailable"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    VALIDATION = "validation_error"
    BODY_TOO_LARGE = "body_too_large"
    METHOD_NOT_ALLOWED = "method_not_allowed"


class PresenceError(Exception):
    """A refused operation; nothing was changed."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
