"""uvicorn's multi-worker supervisor, refusing new connections the moment SIGTERM arrives.

uvicorn's parent process keeps its copy of the listening socket until every worker has
drained, so the kernel goes on completing handshakes that nobody will accept: a client (or a
load balancer's health check) hangs, then is reset. Here the parent closes its copy and
passes the signal on at once; each worker closes its own as it starts to drain, and the
port then refuses connections while in-flight requests finish."""

import signal
from types import FrameType

import structlog
from uvicorn.supervisors.multiprocess import Multiprocess

log = structlog.get_logger("parley.server")


class DrainingMultiprocess(Multiprocess):
    def run(self) -> None:
        for stop in (signal.SIGTERM, signal.SIGINT):
            signal.signal(stop, self._stop_accepting)
        super().run()

    def _stop_accepting(self, signum: int, _frame: FrameType | None) -> None:
        log.info("draining", signal=signal.Signals(signum).name, workers=len(self.processes))
        for sock in self.sockets:
            sock.close()
        self.should_exit.set()  # wakes the supervisor loop, which stops every worker
