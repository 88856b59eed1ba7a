"""A tiny HTTP client for set-up calls (log in, check a route answers, read a cursor)."""

import http.client
import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit


def call(
    base_url: str,
    method: str,
    path: str,
    *,
    token: str | None = None,
    body: object | None = None,
    timeout: float = 30,
) -> tuple[int, Any]:
    """Send one request; return (status, parsed JSON or raw text)."""
    parts = urlsplit(base_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    payload = None
    if body is not None:
        payload = json.dumps(body)
        headers["Content-Type"] = "application/json"
    try:
        conn.request(method, path, body=payload, headers=headers)
        response = conn.getresponse()
        raw = response.read().decode(errors="replace")
    finally:
        conn.close()
    try:
        return response.status, json.loads(raw)
    except ValueError:
        return response.status, raw


def login(base_url: str, email: str, password: str) -> dict[str, Any]:
    """Log in and return the token pair (`data` of the envelope)."""
    status, body = call(
        base_url, "POST", "/api/v1/auth/login", body={"email": email, "password": password}
    )
    if status != 200 or not isinstance(body, dict):
        raise RuntimeError(f"login failed: {status} {str(body)[:300]}")
    data: dict[str, Any] = body["data"]
    return data


def login_many(base_url: str, email: str, password: str, count: int) -> list[dict[str, Any]]:
    """Open `count` login sessions (a few at a time: each costs one slow password hash)."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(lambda _: login(base_url, email, password), range(count)))
