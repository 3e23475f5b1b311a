"""The domain's one error type. Services raise it; the API and the pages turn it
into a response (``leads.api.errors``) or a form message."""


class ApplicationError(Exception):
    status_code = 400
    code = "application_error"
    default_message = "The request could not be completed."

    def __init__(self, message: str | None = None, *, fields: dict[str, list[str]] | None = None):
        self.message = message or self.default_message
        self.fields = fields or {}
        super().__init__(self.message)


class ValidationFailed(ApplicationError):
    status_code = 400
    code = "validation_error"
    default_message = "The request has invalid fields."


class PermissionDenied(ApplicationError):
    status_code = 403
    code = "permission_denied"
    default_message = "You are not allowed to do this."


class NotFound(ApplicationError):
    status_code = 404
    code = "not_found"
    default_message = "Not found."


class Conflict(ApplicationError):
    status_code = 409
    code = "conflict"
    default_message = "The request conflicts with the current state."


class PreconditionFailed(ApplicationError):
    status_code = 412
    code = "precondition_failed"
    default_message = "The lead changed since you read it."
