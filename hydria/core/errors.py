"""Every error Hydria raises on purpose, and what it means to a caller.

    HydriaError
    ├── APIError                  a request was refused; carries the HTTP status
    │   ├── InvalidInput          400  body or query is wrong
    │   │   └── InvalidPaging     400  a limit or sort direction Octavia's hook refuses
    │   ├── NotAuthorized         403  policy says no
    │   ├── QuotaExceeded         403  the project's quota is used up
    │   ├── NotFound              404  no such object (in this project)
    │   │   └── ParentNotFound    404  the pool or L7 policy a path goes through
    │   ├── Conflict              409  duplicate, or state forbids the change
    │   │   └── ImmutableObject   409  the load balancer is PENDING_*
    │   ├── PayloadTooLarge       413
    │   ├── ProviderUnsupported   501  the provider does not support an option
    │   └── ServiceUnavailable    503  the database is gone; retry after N s
    ├── TemporaryError            the controller retries after ``retry_after`` s
    │   ├── AmphoraUnreachable    the agent did not answer (yet)
    │   └── ConfigNotLoaded       HAProxy checked the configuration but would not
    │                             load it (a bind failure): the old one still serves
    └── PermanentError            the controller gives up and marks ERROR
        ├── ConfigRejected        ``haproxy -c`` refused the rendered config
        └── AllocationFailed      no free address left in a subnet

The API layer turns APIError into Octavia's ``{"faultcode", "faultstring",
"debuginfo"}`` body in exactly one place (``hydria.api.errors``); the ones
Octavia refuses before its controllers run (``before_controllers``:
ParentNotFound, InvalidPaging) get pecan's ``{"code", "title", "description"}``,
as an unknown path does.
"""

from __future__ import annotations


class HydriaError(Exception):
    """Base of every deliberate Hydria error."""


class APIError(HydriaError):
    status_code = 500
    faultcode = "Server"
    # refused where Octavia refuses it before its controllers run (routing, paging):
    # answered with pecan's body, not WSME's (``hydria.api.errors``)
    before_controllers = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(APIError):
    status_code = 400
    faultcode = "Client"


class InvalidPaging(InvalidInput):
    """A ``limit`` or sort direction Octavia's paging hook refuses (it runs before the
    controllers: pecan's body, title "Bad Request")."""

    before_controllers = True


class NotAuthorized(APIError):
    status_code = 403
    faultcode = "Client"

    def __init__(
        self, message: str = "Policy does not allow this request to be performed."
    ) -> None:
        super().__init__(message)


class QuotaExceeded(APIError):
    """Octavia answers a create past the project's quota with 403 and this text."""

    status_code = 403
    faultcode = "Client"

    @classmethod
    def of(cls, kind: str) -> QuotaExceeded:
        return cls(f"Quota has been met for resources: {kind}")


class NotFound(APIError):
    status_code = 404
    faultcode = "Client"

    @classmethod
    def of(cls, kind: str, object_id: str) -> NotFound:
        return cls(f"{kind} {object_id} not found.")


class ParentNotFound(NotFound):
    """The object a path goes through (``/pools/{id}/members``, ``/l7policies/{id}/rules``)
    does not exist. Octavia finds that while routing, before its controllers (and
    their WSME fault body, their policy checks, their body parsing) run, so the
    answer has pecan's body: ``{"code": 404, "title": "Bad Request", "description":
    "Pool <id> not found."}`` ("Bad Request": Octavia's API exceptions keep the
    title of webob's client-error base class whatever their code)."""

    before_controllers = True


class Conflict(APIError):
    status_code = 409
    faultcode = "Client"


class ImmutableObject(Conflict):
    @classmethod
    def of(cls, kind: str, object_id: str) -> ImmutableObject:
        return cls(f"{kind} {object_id} is immutable and cannot be updated.")


class PayloadTooLarge(APIError):
    status_code = 413
    faultcode = "Client"


class ProviderUnsupported(APIError):
    """Octavia's ProviderUnsupportedOptionError: a valid request the provider cannot
    build (yet). Clients and Octavia's own tests read 501 as "skip this feature"."""

    status_code = 501
    faultcode = "Server"

    @classmethod
    def of(cls, detail: str, provider: str = "amphora") -> ProviderUnsupported:
        return cls(f"Provider '{provider}' does not support a requested option: {detail}")


class ServiceUnavailable(APIError):
    status_code = 503
    faultcode = "Server"

    def __init__(self, message: str, *, retry_after: int = 5) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class TemporaryError(HydriaError):
    """A step failed in a way that may heal by itself; try again later."""

    def __init__(self, message: str, *, retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class AmphoraUnreachable(TemporaryError):
    pass


class ConfigNotLoaded(TemporaryError):
    """The agent's HAProxy refused to run a checked configuration (an address in use,
    a resource limit); the message carries HAProxy's own words. May heal on retry."""


class PermanentError(HydriaError):
    """Retrying will not help; the object goes to ERROR with this reason."""


class ConfigRejected(PermanentError):
    pass


class AllocationFailed(PermanentError):
    pass
