"""PostgreSQL keeps one plan for each page statement of the lean path (decision 199).

With a bound LIMIT, the planner costs the statement's reusable plan for a tenth of the rows
it expects; for a chat session of thousands of messages that plan looks dearer than planning
anew, and the statement was planned again on every execution (0.15-0.3 ms, against 0.06 ms to
run it). The test gives the planner such statistics, inside a transaction rolled back after.
"""

from uuid import uuid4

import pytest

from parley.chats.repository import ChatRows
from parley.db.engine import create_database
from parley.db.fast import PostgresDriver
from parley.models.user import Role, User

MESSAGES = 5_000
# PostgreSQL plans a prepared statement anew its first five times, then chooses.
EXECUTIONS = 12


async def test_a_message_page_is_planned_once_per_connection(schema: str) -> None:
    database = create_database(schema)
    if database.engine.dialect.name != "postgresql":
        await database.dispose()
        pytest.skip("the plan cache is PostgreSQL's")
    owner, sid = uuid4(), uuid4()
    async with database.engine.connect() as connection:
        transaction = await connection.begin()
        raw = (await connection.get_raw_connection()).driver_connection
        try:
            await raw.execute(
                "INSERT INTO users (id, email, email_key, password_hash, role, is_active,"
                " created_at, updated_at)"
                " VALUES ($1, 'plans@example.com', 'plans@example.com', 'x', 'user', true,"
                " now(), now())",
                owner,
            )
            await raw.execute(
                "INSERT INTO chat_sessions (id, user_id, title, title_is_default, activity_at,"
                " message_count, seller_count, last_message_seq, created_at, updated_at)"
                " VALUES ($1, $2, 'Plans', false, now(), $3::integer, 0, $3::integer,"
                " now(), now())",
                sid,
                owner,
                MESSAGES,
            )
            await raw.execute(
                "INSERT INTO messages (id, chat_session_id, seq, sender, kind, content,"
                " created_at)"
                " SELECT gen_random_uuid(), $1, n, 'customer', 'text', 'hello', now()"
                " FROM generate_series(1, $2::integer) AS n",
                sid,
                MESSAGES,
            )
            await raw.execute("ANALYZE messages")
            rows = ChatRows(PostgresDriver(raw, connection.dialect), connection.dialect)
            viewer = User(id=owner, role=Role.USER.value)
            for _ in range(EXECUTIONS):
                page = await rows.message_page(
                    sid, viewer, limit=20, after_seq=None, descending=False, q=None
                )
                assert [row[6] for row in page] == list(range(1, 22))
            plans = await raw.fetch(
                "SELECT generic_plans, custom_plans FROM pg_prepared_statements"
                " WHERE statement LIKE '%FROM messages%'"
                " AND statement NOT LIKE '%pg_prepared_statements%'"
            )
        finally:
            await transaction.rollback()
    await database.dispose()
    assert len(plans) == 1
    # The first five are planned for their parameters; every later one reuses the plan.
    assert plans[0]["custom_plans"] <= 5
    assert plans[0]["generic_plans"] >= EXECUTIONS - 5
