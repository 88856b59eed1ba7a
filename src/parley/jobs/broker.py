"""The queue behind QUEUE_URL, through taskiq: Redis Streams, RabbitMQ or NATS JetStream.

Every message is one job's id; the job itself stays in the database outbox until it has run,
so a lost message is sent again by the relay and a message delivered twice runs the job once.
Workers acknowledge a message after the job has finished (taskiq's `when_saved`), so a job
left by a killed worker is delivered again.
"""

from collections.abc import Awaitable, Callable
from datetime import timedelta

from taskiq import AsyncBroker, AsyncTaskiqDecoratedTask

from parley.core.config import Settings

TASK_NAME = "parley.run_job"
CONSUMER_GROUP = "parley-workers"
# Messages a worker takes from the broker ahead of running them: what it runs at once (the job
# service's CONCURRENCY). More would sit in its hands while another worker idles, and a worker
# killed would take them with it until they are redelivered.
TAKEN_AT_ONCE = 4

RunJob = Callable[[str], Awaitable[None]]


def create_broker(settings: Settings) -> AsyncBroker:
    """Build the taskiq broker for QUEUE_URL (redis://, amqp://, nats://)."""
    url = settings.queue_url
    assert url is not None
    name = settings.queue_name
    # A delivered message nobody acknowledged within twice the job lease is delivered again.
    redelivery = timedelta(seconds=2 * settings.job_lease)
    if url.startswith(("redis://", "rediss://")):
        from taskiq_redis import RedisStreamBroker

        return RedisStreamBroker(
            url,
            queue_name=name,
            consumer_group_name=CONSUMER_GROUP,
            consumer_id="0",  # a group created late still reads what was sent before it
            idle_timeout=int(redelivery.total_seconds() * 1000),
            unacknowledged_lock_timeout=redelivery.total_seconds(),
            xread_count=TAKEN_AT_ONCE,  # taskiq-redis reads 100 by default
            socket_timeout=5,
            socket_connect_timeout=5,
        )
    if url.startswith(("amqp://", "amqps://")):
        from taskiq_aio_pika import AioPikaBroker
        from taskiq_aio_pika.exchange import Exchange
        from taskiq_aio_pika.queue import Queue

        return AioPikaBroker(
            url,
            exchange=Exchange(name=name),
            task_queues=[Queue(name=name)],
            dead_letter_queue=Queue(name=f"{name}.dead-letter"),
            qos=TAKEN_AT_ONCE,
            timeout=5,
        )
    from nats.js.api import ConsumerConfig, RetentionPolicy, StreamConfig
    from taskiq_nats import PullBasedJetStreamBroker

    return PullBasedJetStreamBroker(
        [url],
        subject=name,
        stream_name=name,
        durable=CONSUMER_GROUP,
        # Work-queue retention: a message is gone once a worker acknowledged it.
        stream_config=StreamConfig(retention=RetentionPolicy.WORK_QUEUE),
        consumer_config=ConsumerConfig(
            durable_name=CONSUMER_GROUP, ack_wait=redelivery.total_seconds()
        ),
        pull_consume_timeout=2.0,
        connect_timeout=5,
        max_reconnect_attempts=-1,
    )


def job_task(broker: AsyncBroker, run: RunJob) -> AsyncTaskiqDecoratedTask[[str], None]:
    """The one task every message names: run the job whose id it carries."""

    async def run_job(job_id: str) -> None:
        await run(job_id)

    return broker.register_task(run_job, task_name=TASK_NAME)  # type: ignore[arg-type]
