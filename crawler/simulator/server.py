"""Running the simulator: in the foreground (:func:`serve`) or in a background thread.

Only loopback addresses are served: the simulator answers anyone without real auth, so it
must never be reachable from another machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import threading
import time
from collections.abc import Callable

import anyio
from aiohttp import web

from crawler.simulator.app import INVENTORY_KEY, STATS_KEY, TOKENS_KEY, SimulatorConfig, build_app
from crawler.simulator.inventory import Inventory
from crawler.simulator.ratelimit import Clock

__all__ = ["RunningSimulator", "check_loopback", "serve"]

# In-flight requests (e.g. with simulated latency) get this long to finish on shutdown.
_SHUTDOWN_TIMEOUT = 2.0
_START_TIMEOUT = 10.0


def check_loopback(host: str) -> None:
    """Raise ValueError unless ``host`` is ``localhost`` or a loopback IP address."""
    if host == "localhost":
        return
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"refusing to serve on {host!r}: not a loopback address") from None
    if not address.is_loopback:
        raise ValueError(f"refusing to serve on {host!r}: not a loopback address")


def _base_url(host: str, port: int) -> str:
    if ":" in host:
        return f"http://[{host}]:{port}"
    return f"http://{host}:{port}"


async def _serve_app(
    app: web.Application, host: str, port: int, on_ready: Callable[[str], None] | None
) -> None:
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=_SHUTDOWN_TIMEOUT)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        if on_ready is not None:
            on_ready(_base_url(*runner.addresses[0][:2]))
        await anyio.sleep_forever()
    finally:
        # Shielded so that an anyio cancel scope cannot interrupt closing the sockets.
        with anyio.CancelScope(shield=True):
            await runner.cleanup()


async def serve(
    config: SimulatorConfig,
    *,
    host: str = "127.0.0.1",
    port: int = 8774,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Serve the simulator until cancelled.

    Args:
        config: Simulator settings.
        host: Loopback address to bind (``127.0.0.0/8``, ``::1`` or ``localhost``).
        port: TCP port; 0 picks a free one.
        on_ready: Called once with the base URL (real port included) when listening.

    Raises:
        ValueError: ``host`` is not a loopback address.
    """
    check_loopback(host)
    await _serve_app(build_app(config), host, port, on_ready)


class RunningSimulator:
    """Context manager running the simulator on 127.0.0.1 in a daemon thread.

    The thread owns its event loop, so sync tests and demos can use the simulator while
    their own code runs on another loop (or none).

    Args:
        config: Simulator settings.
        port: TCP port on 127.0.0.1; 0 picks a free one.
        clock: Monotonic clock of the token buckets (see ``build_app``).
    """

    def __init__(
        self, config: SimulatorConfig, *, port: int = 0, clock: Clock = time.monotonic
    ) -> None:
        self._app = build_app(config, clock=clock)
        self._port = port
        self.inventory: Inventory = self._app[INVENTORY_KEY]
        self.base_url = ""
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._thread: threading.Thread | None = None

    def stats(self) -> dict[str, int]:
        """Return the response counters (see ``SimulatorStats.snapshot``)."""
        return self._app[STATS_KEY].snapshot()

    def max_in_flight(self) -> int:
        """The most requests the simulator was handling at once so far."""
        return self._app[STATS_KEY].max_in_flight

    def expire_tokens(self) -> int:
        """Invalidate every Keystone token issued so far; return how many there were."""
        return self._app[TOKENS_KEY].expire_all()

    def _on_ready(self, base_url: str) -> None:
        self.base_url = base_url
        self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.current_task()
        with contextlib.suppress(asyncio.CancelledError):  # the way out, from __exit__
            await _serve_app(self._app, "127.0.0.1", self._port, self._on_ready)

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported to the starting thread
            self._error = exc
        finally:
            self._ready.set()

    def __enter__(self) -> RunningSimulator:
        if self._thread is not None:
            raise RuntimeError("RunningSimulator is not re-entrant")
        self._thread = threading.Thread(target=self._run, name="simulator", daemon=True)
        self._thread.start()
        if not self._ready.wait(_START_TIMEOUT) or not self.base_url:
            self._stop()
            raise RuntimeError(f"simulator did not start: {self._error!r}") from self._error
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop()

    def _stop(self) -> None:
        loop, task, thread = self._loop, self._task, self._thread
        if loop is not None and task is not None and not loop.is_closed():
            # RuntimeError: the loop closed between the check and the call.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(task.cancel)
        if thread is not None:
            thread.join(_START_TIMEOUT + _SHUTDOWN_TIMEOUT)
