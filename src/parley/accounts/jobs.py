"""Accounts jobs: the periodic purge of spent verification links and MFA challenges."""

from parley.accounts.service import purge_spent_account_tokens
from parley.jobs import JobContext, Payload, every_purge_interval, periodic


@periodic("accounts.purge_spent", every=every_purge_interval)
async def purge_spent(ctx: JobContext, _payload: Payload) -> None:
    """Delete verification links and MFA challenges spent over a day ago."""
    await purge_spent_account_tokens(ctx.database)
