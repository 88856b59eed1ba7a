"""Media jobs: removing stored files once the rows that named them are gone."""

from parley.db.uow import UnitOfWork
from parley.jobs import JobContext, Payload, enqueue, job


@job("media.remove_files")
async def remove_files(ctx: JobContext, payload: Payload) -> None:
    """Delete the files; a file already gone is no error, so a second run does nothing."""
    for key in payload["keys"]:
        await ctx.media.delete(key)


def remove_files_after_commit(uow: UnitOfWork, keys: list[str]) -> None:
    """Remove these files once the transaction deleting their rows has committed."""
    if keys:
        enqueue(uow, remove_files, {"keys": keys})
