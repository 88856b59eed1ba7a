"""Errors of the webhooks domain."""

from parley.core.errors import Conflict, FieldError, NotFound, ValidationFailed


class WebhookNotFound(NotFound):
    message = "Webhook not found"


class DeliveryNotFound(NotFound):
    message = "Delivery not found"


class TooManyWebhooks(Conflict):
    message = "A user may have at most 20 webhooks"


class WebhookInactive(Conflict):
    message = "This webhook is disabled; enable it first"


class UrlRefused(ValidationFailed):
    """The URL's host is, or resolves to, an address webhooks may not reach."""

    message = "The webhook URL is not allowed"

    def __init__(self, reason: str) -> None:
        super().__init__(details=[FieldError("body.url", reason)])
