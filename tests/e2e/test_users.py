"""The caller's own account and the administrators' user management."""

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import (
    PASSWORD,
    Account,
    assert_error,
    count_queries,
    log_in,
    sign_up,
    unique_email,
)

API = "/api/v1"


async def test_read_me(client: httpx.AsyncClient, alice: Account) -> None:
    response = await client.get(f"{API}/users/me", headers=alice.headers)
    assert response.status_code == 200
    assert response.json()["data"]["email"] == alice.email


async def test_update_me_changes_and_clears_profile_fields(
    client: httpx.AsyncClient, alice: Account
) -> None:
    set_fields = await client.patch(
        f"{API}/users/me",
        json={"username": "alice.shop", "phone_number": "+14155552671"},
        headers=alice.headers,
    )
    assert set_fields.status_code == 200
    assert set_fields.json()["data"]["username"] == "alice.shop"
    cleared = await client.patch(
        f"{API}/users/me", json={"phone_number": None}, headers=alice.headers
    )
    data = cleared.json()["data"]
    assert data["phone_number"] is None and data["username"] == "alice.shop"


async def test_update_me_conflicts_when_taken(
    client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    await client.patch(f"{API}/users/me", json={"username": "bobs_store"}, headers=bob.headers)
    assert_error(
        await client.patch(
            f"{API}/users/me", json={"username": "BOBS_STORE"}, headers=alice.headers
        ),
        409,
        "conflict",
    )
    assert_error(
        await client.patch(f"{API}/users/me", json={"email": bob.email}, headers=alice.headers),
        409,
        "conflict",
    )


@pytest.mark.parametrize(
    "body",
    [
        {"role": "admin"},
        {"is_active": False},
        {"id": "x"},
        {"email": None},
        {"username": "a"},
        {"phone_number": "12"},
    ],
)
async def test_update_me_refuses_bad_or_privileged_fields(
    client: httpx.AsyncClient, alice: Account, body: dict[str, object]
) -> None:
    assert_error(
        await client.patch(f"{API}/users/me", json=body, headers=alice.headers),
        422,
        "validation_error",
    )
    me = (await client.get(f"{API}/users/me", headers=alice.headers)).json()["data"]
    assert me["role"] == "user" and me["is_active"] is True


async def test_update_me_with_an_email_makes_it_the_login(
    client: httpx.AsyncClient, alice: Account
) -> None:
    new_email = unique_email("renamed")
    assert (
        await client.patch(f"{API}/users/me", json={"email": new_email}, headers=alice.headers)
    ).status_code == 200
    await log_in(client, email=new_email)


async def test_delete_me_needs_the_password_and_removes_the_account(
    client: httpx.AsyncClient, alice: Account
) -> None:
    wrong = await client.request(
        "DELETE", f"{API}/users/me", json={"password": "not my password"}, headers=alice.headers
    )
    assert_error(wrong, 422, "validation_error")
    right = await client.request(
        "DELETE", f"{API}/users/me", json={"password": PASSWORD}, headers=alice.headers
    )
    assert right.status_code == 200
    assert_error(await client.get(f"{API}/users/me", headers=alice.headers), 401, "unauthorized")
    relogin = await client.post(
        f"{API}/auth/login", json={"email": alice.email, "password": PASSWORD}
    )
    assert_error(relogin, 401, "unauthorized")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/users"),
        ("GET", "/users/{id}"),
        ("PATCH", "/users/{id}"),
        ("DELETE", "/users/{id}"),
    ],
)
async def test_admin_routes_are_403_for_users(
    client: httpx.AsyncClient, alice: Account, bob: Account, method: str, path: str
) -> None:
    kwargs: dict[str, object] = {"json": {"role": "admin"}} if method == "PATCH" else {}
    response = await client.request(
        method, API + path.format(id=bob.id), headers=alice.headers, **kwargs
    )  # type: ignore[arg-type]
    assert_error(response, 403, "forbidden")


async def test_admin_lists_and_filters_users(
    client: httpx.AsyncClient, admin: Account, alice: Account, bob: Account
) -> None:
    everyone = (await client.get(f"{API}/users?limit=100", headers=admin.headers)).json()["data"][
        "items"
    ]
    assert {alice.email, bob.email, admin.email} <= {u["email"] for u in everyone}
    admins = (await client.get(f"{API}/users?role=admin", headers=admin.headers)).json()["data"][
        "items"
    ]
    assert {u["role"] for u in admins} == {"admin"}
    found = (
        await client.get(
            f"{API}/users", params={"q": alice.email.split("@")[0].upper()}, headers=admin.headers
        )
    ).json()["data"]["items"]
    assert [u["email"] for u in found] == [alice.email]
    wildcard = (await client.get(f"{API}/users", params={"q": "%"}, headers=admin.headers)).json()[
        "data"
    ]["items"]
    assert wildcard == []


async def test_admin_user_list_paginates_without_overlap(
    client: httpx.AsyncClient, admin: Account
) -> None:
    for _ in range(4):
        await client.post(
            f"{API}/auth/register", json={"email": unique_email(), "password": PASSWORD}
        )
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get(f"{API}/users", params=params, headers=admin.headers)).json()[
            "data"
        ]
        seen += [u["id"] for u in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 5


async def test_user_list_query_count_does_not_grow_with_page_size(
    app: FastAPI, client: httpx.AsyncClient, admin: Account
) -> None:
    for _ in range(6):
        await client.post(
            f"{API}/auth/register", json={"email": unique_email(), "password": PASSWORD}
        )
    await client.get(f"{API}/users/me", headers=admin.headers)  # warm the access cache
    with count_queries(app) as small:
        await client.get(f"{API}/users?limit=2", headers=admin.headers)
    with count_queries(app) as large:
        await client.get(f"{API}/users?limit=7", headers=admin.headers)
    assert len(small) == len(large)


async def test_role_change_takes_effect_for_issued_tokens(
    client: httpx.AsyncClient, admin: Account, alice: Account
) -> None:
    promoted = await client.patch(
        f"{API}/users/{alice.id}", json={"role": "admin"}, headers=admin.headers
    )
    assert promoted.json()["data"]["role"] == "admin"
    assert (await client.get(f"{API}/users", headers=alice.headers)).status_code == 200
    await client.patch(f"{API}/users/{alice.id}", json={"role": "user"}, headers=admin.headers)
    assert_error(await client.get(f"{API}/users", headers=alice.headers), 403, "forbidden")


async def test_disabling_a_user_revokes_its_sessions_at_once(
    client: httpx.AsyncClient, admin: Account, alice: Account
) -> None:
    response = await client.patch(
        f"{API}/users/{alice.id}", json={"is_active": False}, headers=admin.headers
    )
    assert response.json()["data"]["is_active"] is False
    assert_error(await client.get(f"{API}/users/me", headers=alice.headers), 401, "unauthorized")
    refresh = await client.post(f"{API}/auth/refresh", json={"refresh_token": alice.refresh_token})
    assert_error(refresh, 401, "unauthorized")


async def test_admin_cannot_demote_or_disable_themselves(
    client: httpx.AsyncClient, admin: Account
) -> None:
    me = (await client.get(f"{API}/users/me", headers=admin.headers)).json()["data"]
    response = await client.patch(
        f"{API}/users/{me['id']}", json={"role": "user"}, headers=admin.headers
    )
    assert_error(response, 409, "conflict")


async def test_admin_deletes_a_user(
    client: httpx.AsyncClient, admin: Account, alice: Account
) -> None:
    assert (
        await client.delete(f"{API}/users/{alice.id}", headers=admin.headers)
    ).status_code == 200
    assert_error(
        await client.get(f"{API}/users/{alice.id}", headers=admin.headers), 404, "not_found"
    )
    assert_error(
        await client.delete(f"{API}/users/{alice.id}", headers=admin.headers), 404, "not_found"
    )


@pytest.mark.parametrize("user_id", ["not-a-uuid", "123"])
async def test_malformed_user_ids_are_422(
    client: httpx.AsyncClient, admin: Account, user_id: str
) -> None:
    assert_error(
        await client.get(f"{API}/users/{user_id}", headers=admin.headers), 422, "validation_error"
    )


async def test_first_admin_is_made_at_start_up(app_factory: object) -> None:
    email = unique_email("first")
    app: FastAPI = await app_factory(
        first_admin_email=email, first_admin_password="first admin passphrase"
    )  # type: ignore[operator]
    from tests.conftest import make_client

    async with make_client(app) as http:
        tokens = await log_in(http, email=email, password="first admin passphrase")
        me = await http.get(
            f"{API}/users/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
        )
        assert me.json()["data"]["role"] == "admin"


async def test_sign_up_accepts_optional_fields_only_when_valid(client: httpx.AsyncClient) -> None:
    account = await sign_up(client, username="ünïcode_name")
    assert account.id
    response = await client.post(
        f"{API}/auth/register",
        json={"email": unique_email(), "password": PASSWORD, "username": "has space"},
    )
    assert_error(response, 422, "validation_error")
