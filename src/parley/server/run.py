"""Run the app under uvicorn with the edge limits, on one worker or several."""

import contextlib
import sys
from typing import Any

from uvicorn.config import STARTUP_FAILURE
from uvicorn.server import Server

from parley.core.config import Settings
from parley.server.listening import SocketPerWorker, spreads_connections
from parley.server.protocol import EdgeConfig, EdgeLimits
from parley.server.supervisor import DrainingMultiprocess

APP = "parley.main:app"
# Workers importing the app side by side on a small machine can take well over uvicorn's
# default 5 s to answer their first health check, and would be killed and restarted in a loop.
WORKER_START_TIMEOUT_S = 60


def serve(settings: Settings, *, host: str, port: int, workers: int, graceful_timeout: int) -> None:
    config = EdgeConfig(
        APP,
        limits=EdgeLimits.from_settings(settings),
        host=host,
        port=port,
        workers=workers,
        proxy_headers=False,  # the app decides whom to trust (FORWARDED_ALLOW_IPS)
        server_header=False,
        date_header=True,
        access_log=False,  # the app writes its own access line
        log_config=None,
        timeout_keep_alive=settings.keepalive_timeout,
        timeout_graceful_shutdown=graceful_timeout,
        timeout_worker_healthcheck=WORKER_START_TIMEOUT_S,
        # uvloop, taking every waiting connection when the port is ready (decision 196).
        loop="parley.server.accepting:EagerAcceptLoop",
    )
    listening: Any = config.bind_socket()  # exits, saying why, if the port is taken
    if workers > 1:
        if spreads_connections():
            family, address = listening.family, listening.getsockname()
            listening.close()
            listening = SocketPerWorker(family, address)
        DrainingMultiprocess(config, sockets=[listening]).run()
        return
    config.load_app()
    server = Server(config=config)
    # uvicorn re-raises a drained Ctrl-C; uvicorn.run swallows it, and so do we.
    with contextlib.suppress(KeyboardInterrupt):
        server.run(sockets=[listening])  # closed as the worker starts to drain
    if not server.started:
        sys.exit(STARTUP_FAILURE)
