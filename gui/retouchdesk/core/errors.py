"""The error hierarchy shared by every layer.

Every error the user can see carries one plain sentence (``str(error)``) that names the file or
parameter and the problem, never a stack trace, an API key or a token. The engine decides on
retries from ``retryable`` and ``retry_after`` alone, so providers never loop on their own.
"""

from __future__ import annotations


class RetouchError(Exception):
    """Base of every expected failure; ``str()`` is the sentence shown to the user."""

    retryable: bool = False

    def __init__(self, message: str, *, retryable: bool | None = None) -> None:
        super().__init__(message)
        if retryable is not None:
            self.retryable = retryable

    @property
    def message(self) -> str:
        return str(self)


class InputError(RetouchError):
    """The input file cannot be used: not an image, corrupt, too large, wrong size."""


class ParameterError(RetouchError):
    """A parameter is unknown, of the wrong type, out of range or not allowed here."""

    def __init__(self, message: str, *, parameter: str | None = None) -> None:
        super().__init__(message)
        self.parameter = parameter


class SchemaError(RetouchError):
    """A schema file under resources/providers is malformed (a developer error)."""


class OutputError(RetouchError):
    """A result cannot be written (folder not writable, disk full)."""


class ConfigurationError(RetouchError):
    """A provider lacks credentials or settings it needs (missing key, no hosting set up)."""


#: ``ProviderError.code`` of an error body: the vendor answered, whatever the HTTP status
#: (never retried). Here rather than in the HTTP layer so that the retry policy needs no httpx.
VENDOR_ANSWER = "vendor_answer"


class ProviderError(RetouchError):
    """A provider failed. ``retryable`` errors are retried by the engine with backoff."""

    def __init__(
        self,
        message: str,
        *,
        retryable: bool = False,
        retry_after: float | None = None,
        code: str | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message, retryable=retryable)
        self.retry_after = retry_after
        self.code = code
        self.status = status


class AuthError(ProviderError):
    """Credentials were refused by the provider."""


class RateLimited(ProviderError):
    """HTTP 429 or the vendor's equivalent; always retryable."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: object) -> None:
        super().__init__(message, retryable=True, retry_after=retry_after, **kw)  # type: ignore[arg-type]


class CreditsExhausted(ProviderError):
    """The account has no credits left: the engine stops the provider's remaining batch jobs."""


class RemoteJobLost(ProviderError):
    """The provider no longer knows the job (expired, dropped, unknown id)."""


class Cancelled(Exception):
    """The user cancelled the job; not an error and never retried."""


class DestinationTaken(FileExistsError):
    """A result name appeared while the result was written (another process took it).

    Not a :class:`RetouchError`: the engine catches it and writes under the next free name.
    """
