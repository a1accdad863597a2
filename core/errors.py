"""Errors a user can act on: each says what went wrong and what to do about it."""

from __future__ import annotations


class GanymedeError(Exception):
    """Base error. `str(err)` is one line meant for the user; `hint` says how to fix it."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class UnknownModelError(GanymedeError):
    pass


class UnknownBackendError(GanymedeError):
    pass


class ModelNotInstalledError(GanymedeError):
    pass


class InvalidSettingsError(GanymedeError):
    pass


class ContextWindowExceededError(GanymedeError):
    pass


class BackendUnavailableError(GanymedeError):
    """The backend's library is missing or its server cannot be reached."""


class PromptFileError(GanymedeError):
    pass


class InputFileError(GanymedeError):
    """A user's input file cannot be read or parsed; the message names the file and line."""
