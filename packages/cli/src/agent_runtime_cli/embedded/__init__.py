"""Run real Postgres, Temporal, Valkey and S3 (SeaweedFS) servers locally, without Docker, plus a
process supervisor.

Used by ``agent-runtime dev`` and by the test suites. Every server shares one lifecycle
(``_server.EmbeddedServer``): it dies with its owner, and the next start finds a server left in its
data directory and stops or reuses it.
"""

from agent_runtime_cli.embedded.binaries import (
    BinaryNotFoundError,
    seaweedfs_weed_path,
    temporal_cli_path,
    temporal_test_server_path,
)
from agent_runtime_cli.embedded.ports import (
    PortInUseError,
    PortReservations,
    ensure_port_free,
    find_free_port,
    find_free_ports,
)
from agent_runtime_cli.embedded.postgres import (
    EmbeddedPostgres,
    EmbeddedPostgresError,
    PostgresBinaries,
    ensure_database,
    find_postgres_binaries,
    postgres_reachable,
)
from agent_runtime_cli.embedded.seaweedfs import EmbeddedSeaweedFS, EmbeddedSeaweedFSError
from agent_runtime_cli.embedded.supervisor import ShutdownRequested, Supervisor
from agent_runtime_cli.embedded.temporal_server import TemporalDevServer, TemporalServerError
from agent_runtime_cli.embedded.valkey import (
    EmbeddedValkey,
    EmbeddedValkeyError,
    redis_reachable,
    valkey_server_path,
)

__all__ = [
    "BinaryNotFoundError",
    "EmbeddedPostgres",
    "EmbeddedPostgresError",
    "EmbeddedSeaweedFS",
    "EmbeddedSeaweedFSError",
    "EmbeddedValkey",
    "EmbeddedValkeyError",
    "PortInUseError",
    "PortReservations",
    "PostgresBinaries",
    "ShutdownRequested",
    "Supervisor",
    "TemporalDevServer",
    "TemporalServerError",
    "ensure_database",
    "ensure_port_free",
    "find_free_port",
    "find_free_ports",
    "find_postgres_binaries",
    "postgres_reachable",
    "redis_reachable",
    "seaweedfs_weed_path",
    "temporal_cli_path",
    "temporal_test_server_path",
    "valkey_server_path",
]
