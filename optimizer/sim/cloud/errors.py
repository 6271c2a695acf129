"""The cloud face's API errors: an HTTP status, a stable `code` and a message."""

from __future__ import annotations


class CloudError(Exception):
    """An API error answer: HTTP `status`, body {"code": code, "error": message}."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def unprocessable(message: str) -> CloudError:
    return CloudError(422, "unprocessable_entity", message)


def not_found(what: str, ident: str) -> CloudError:
    return CloudError(404, "not_found", f"{what} {ident} not found")
