"""Domain errors, raised by services and selectors, mapped once to HTTP (API) and to messages /
form errors (UI): NotFound 404, Forbidden 403, IllegalTransition 409, InvalidInput 400, Throttled 429."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    status = 400
    code = "error"

    def __init__(self, message: str = "", **extra: Any) -> None:
        super().__init__(message)
        self.message = message or self.__class__.__doc__ or self.code
        self.extra = extra

    def payload(self) -> dict[str, Any]:
        return {"error": self.code, "message": str(self.message), "fields": {}, **self.extra}


class NotFound(DomainError):
    """Not found."""

    status = 404
    code = "not_found"


class Forbidden(DomainError):
    """You may not do this."""

    status = 403
    code = "forbidden"


class IllegalTransition(DomainError):
    """This transition is not allowed in the current state."""

    status = 409
    code = "illegal_transition"

    def __init__(self, message: str = "", *, allowed: list[str]) -> None:
        super().__init__(message, allowed=allowed)
        self.allowed = allowed


class Conflict(DomainError):
    """Somebody else changed this first."""

    status = 409
    code = "conflict"


class PossibleDuplicate(DomainError):
    """Possible duplicates of this person exist; confirm a new person or pick one."""

    status = 409
    code = "possible_duplicate"

    def __init__(self, message: str = "", *, candidates: list[dict[str, Any]]) -> None:
        super().__init__(message, candidates=candidates)
        self.candidates = candidates


class Throttled(DomainError):
    """Too many requests of this kind: wait and try again."""

    status = 429
    code = "throttled"

    def __init__(self, message: str = "", *, retry_after: int) -> None:
        super().__init__(message, retry_after=retry_after)
        self.retry_after = retry_after


class InvalidInput(DomainError):
    """Invalid input."""

    status = 400
    code = "invalid"

    def __init__(self, message: str = "", *, fields: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.fields = fields or {}

    def payload(self) -> dict[str, Any]:
        return {"error": self.code, "message": str(self.message), "fields": self.fields}
