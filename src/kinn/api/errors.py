"""API errors and their Kubernetes `Status` form.

Every failure that reaches a client is a `StatusError`. Its `status()` is the exact body the
Kubernetes API server sends (same keys, same order, same wording), because kubectl and the client
libraries print, parse and sometimes compare these bodies verbatim.
"""

from __future__ import annotations

from typing import Any, Sequence

from kinn.api.field import FieldError


class StatusError(Exception):
    """An error with an HTTP code, a machine-readable reason and optional details."""

    def __init__(self, code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
        }
        if self.reason:  # StatusReasonUnknown is "", which omitempty leaves out
            body["reason"] = self.reason
        if self.details is not None:
            body["details"] = self.details
        body["code"] = self.code
        return body


def aggregate(messages: Sequence[str]) -> str:
    """utilerrors.Aggregate.Error(): one message alone, several deduplicated inside brackets."""
    unique = list(dict.fromkeys(messages))
    return unique[0] if len(unique) == 1 else "[" + ", ".join(unique) + "]"


def qualified_resource(resource: str, group: str) -> str:
    """`deployments.apps`, or just `pods` for the core group."""
    return f"{resource}.{group}" if group else resource


def _details(name: str, group: str, kind: str) -> dict[str, Any]:
    details: dict[str, Any] = {}
    if name:
        details["name"] = name
    if group:
        details["group"] = group
    details["kind"] = kind
    return details


def not_found(resource: str, group: str, name: str) -> StatusError:
    return StatusError(
        404, "NotFound", f'{qualified_resource(resource, group)} "{name}" not found', _details(name, group, resource)
    )


def no_such_route() -> StatusError:
    """The 404 for a path that names no resource at all."""
    return StatusError(404, "NotFound", "the server could not find the requested resource", {})


def already_exists(resource: str, group: str, name: str) -> StatusError:
    return StatusError(
        409,
        "AlreadyExists",
        f'{qualified_resource(resource, group)} "{name}" already exists',
        _details(name, group, resource),
    )


def conflict(resource: str, group: str, name: str, why: str) -> StatusError:
    return StatusError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {qualified_resource(resource, group)} "{name}": {why}',
        _details(name, group, resource),
    )


OBJECT_MODIFIED = "the object has been modified; please apply your changes to the latest version and try again"


def stale_update(resource: str, group: str, name: str) -> StatusError:
    return conflict(resource, group, name, OBJECT_MODIFIED)


def invalid(kind: str, group: str, name: str, errors: Sequence[FieldError]) -> StatusError:
    """422 with one cause per field error; the message aggregates them as upstream does."""
    qualified_kind = f"{kind}.{group}" if group else kind
    if len(errors) == 1:
        summary = str(errors[0])
    else:
        summary = "[" + ", ".join(str(e) for e in errors) + "]"
    details = _details(name, group, kind)
    details["causes"] = [e.cause() for e in errors]
    return StatusError(422, "Invalid", f'{qualified_kind} "{name}" is invalid: {summary}', details)


def bad_request(message: str) -> StatusError:
    return StatusError(400, "BadRequest", message)


def forbidden(resource: str, group: str, name: str, why: str) -> StatusError:
    subject = f'{qualified_resource(resource, group)} "{name}"' if name else qualified_resource(resource, group)
    return StatusError(403, "Forbidden", f"{subject} is forbidden: {why}", _details(name, group, resource))


def method_not_supported(resource: str, group: str, verb: str) -> StatusError:
    return StatusError(
        405,
        "MethodNotAllowed",
        f'{verb} is not supported on resources of kind "{qualified_resource(resource, group)}"',
        _details("", group, resource),
    )


def not_acceptable(accepted: Sequence[str]) -> StatusError:
    return StatusError(
        406,
        "NotAcceptable",
        "only the following media types are accepted: " + ", ".join(accepted),
    )


def unsupported_media_type(content_type: str, accepted: Sequence[str]) -> StatusError:
    return StatusError(
        415,
        "UnsupportedMediaType",
        f"the body of the request was in an unknown format - accepted media types include: {', '.join(accepted)}",
    )


def request_entity_too_large(limit: int) -> StatusError:
    return StatusError(413, "RequestEntityTooLarge", f"Request entity too large: limit is {limit}")


def expired(message: str) -> StatusError:
    """410 Gone with reason Expired: a watch or continue token older than the retained history."""
    return StatusError(410, "Expired", message)


def resource_version_too_old(requested: int, oldest: int) -> StatusError:
    return expired(f"too old resource version: {requested} ({oldest})")


def resource_version_too_large(requested: int, current: int) -> StatusError:
    """504 for a read at a revision the store has not reached (storage.NewTooLargeResourceVersionError);
    clients such as reflectors retry after a second."""
    return StatusError(504, "Timeout", f"Timeout: Too large resource version: {requested}, current: {current}",
                       {"causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}],
                        "retryAfterSeconds": 1})


def too_many_requests(message: str, retry_after: int = 1) -> StatusError:
    return StatusError(429, "TooManyRequests", message, {"retryAfterSeconds": retry_after})


def unknown_error(message: str) -> StatusError:
    """What ErrorToAPIStatus makes of an error that is no Status: 500, no reason, the bare text
    (kubectl prints `Error from server: <text>`)."""
    return StatusError(500, "", message)


def internal_error(message: str) -> StatusError:
    return StatusError(500, "InternalError", f"Internal error occurred: {message}", {"causes": [{"message": message}]})


def timeout(message: str) -> StatusError:
    return StatusError(504, "Timeout", message, {})
