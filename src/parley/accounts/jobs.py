"""Accounts jobs: the periodic purge of spent verification links and MFA challenges, and of
devices not seen in 90 days."""

from parley.accounts.service import forget_unseen_devices, purge_spent_account_tokens
from parley.jobs import JobContext, Payload, every_purge_interval, periodic


@periodic("accounts.purge_spent", every=every_purge_interval)
async def purge_spent(ctx: JobContext, _payload: Payload) -> None:
    """Delete verification links and MFA challenges spent over a day ago, and the known
    devices not seen in 90 days."""
    await purge_spent_account_tokens(ctx.database)
    await forget_unseen_devices(ctx.database)
