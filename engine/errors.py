"""The errors the engine raises. Each names the problem in words a user can act on.

The API maps them to HTTP statuses (NotFound 404, Conflict 409, TooLarge 413, InvalidInput 422,
DeploymentError 400, Forbidden 403); the CLI prints them.
"""


class FollowupError(Exception):
    """Base class: `str(error)` is a message fit for a user."""

    def __init__(self, message, **details):
        super().__init__(message)
        self.message = message
        self.details = details


class NotFound(FollowupError):
    pass


class Conflict(FollowupError):
    """Someone else changed the thing first: a claim held by another user, a task already completed,
    an instance updated concurrently."""


class Forbidden(FollowupError):
    pass


class InvalidInput(FollowupError):
    """Values that do not fit: `errors` maps each bad field to the reasons."""

    def __init__(self, message, errors=None):
        super().__init__(message, errors=errors or {})
        self.errors = errors or {}


class TooLarge(InvalidInput):
    """Input past a size limit (rows of a spreadsheet, bytes of a file): the API answers 413."""


class DeploymentError(FollowupError):
    """A BPMN or DMN file that cannot be deployed: names the file, the line and the element."""

    def __init__(self, message, file=None, line=None, element=None):
        parts = [p for p in (file, f"line {line}" if line else None, f"element '{element}'" if element else None) if p]
        full = f"{': '.join([', '.join(parts), message]) if parts else message}"
        super().__init__(full, file=file, line=line, element=element)
        self.file, self.line, self.element = file, line, element
        self.reason = message


class ScriptRefused(FollowupError):
    """A script or expression uses something the sandbox does not allow."""
