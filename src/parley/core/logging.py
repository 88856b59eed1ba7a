"""Structured logs: JSON in production, readable console lines in development.

Every line, ours and the libraries', passes two guards before it is rendered: values under
secret-sounding keys (and anything shaped like a JWT or a bearer credential) are replaced, and
control characters are escaped, so a client cannot forge log lines or leak a token into them.
"""

import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any

import structlog

from parley.core.config import LogFormat, Settings

REDACTED = "[redacted]"
# A key is secret when its lower-cased name contains one of these.
SECRET_KEY_PARTS = (
    "password",
    "token",
    "secret",
    "authorization",
    "cookie",
    "api_key",
    "apikey",
    "credential",
)
# Keys whose values the renderer itself formats (tracebacks keep their lines).
_RENDERER_KEYS = frozenset({"exc_info", "exception", "stack"})
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_SHORT_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}

_security_log = structlog.get_logger("parley.security")


def security_event(name: str, **fields: Any) -> None:
    """Log a security event (login_failed, refresh_token_reused, ...) as a line of its own."""
    _security_log.warning(name, category="security", **fields)


def _is_secret_key(key: object) -> bool:
    lowered = str(key).lower()
    return any(part in lowered for part in SECRET_KEY_PARTS)


def _escape(text: str) -> str:
    def one(match: re.Match[str]) -> str:
        char = match.group()
        return _SHORT_ESCAPES.get(char) or f"\\u{ord(char):04x}"

    return _CONTROL.sub(one, text)


def _clean_text(text: str) -> str:
    text = _JWT.sub(REDACTED, text)
    text = _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    return _escape(text)


def _clean(value: Any, depth: int = 0) -> Any:
    """Redact and escape a value; containers are walked a few levels deep."""
    if isinstance(value, str):
        return _clean_text(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    if depth >= 4:
        return _clean_text(str(value))
    if isinstance(value, Mapping):
        return {
            _clean_text(str(k)): REDACTED if _is_secret_key(k) else _clean(v, depth + 1)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [_clean(item, depth + 1) for item in value]
    return _clean_text(str(value))


def sanitize(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Replace secrets and escape control characters in every value of a log line."""
    for key in list(event_dict):
        if key in _RENDERER_KEYS:
            continue
        if _is_secret_key(key):
            event_dict[key] = REDACTED
        else:
            event_dict[key] = _clean(event_dict[key])
    return event_dict


def configure_logging(settings: Settings) -> None:
    """Route structlog and the standard library through one renderer at the configured level."""
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if settings.effective_log_format is LogFormat.JSON
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        # Drop lines below LOG_LEVEL before any work is spent on them.
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                # At render time, so that lines from every library pass through it too.
                sanitize,
                structlog.processors.format_exc_info,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(settings.log_level)
    # alembic names each plugin it sets up at INFO: noise in every start-up's output.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
