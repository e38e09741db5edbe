"""The Temporal dev server: real ``temporal server start-dev`` processes."""

from __future__ import annotations

import socket
import uuid
from pathlib import Path

import httpx
import pytest
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.client import Client, WorkflowExecutionStatus

from agent_runtime_cli.embedded.ports import PortInUseError, find_free_port
from agent_runtime_cli.embedded.temporal_server import TemporalDevServer, TemporalServerError

pytestmark = pytest.mark.timeout(60)

SEARCH_ATTRIBUTES = {"TenantId": "Keyword", "AgentId": "Keyword", "RunStatus": "Keyword"}


async def test_registers_search_attributes_and_serves_the_ui() -> None:
    codec = "http://127.0.0.1:8000/v1/temporal/codec"
    async with TemporalDevServer.in_temp_dir(
        search_attributes=SEARCH_ATTRIBUTES, ui_codec_endpoint=codec
    ) as server:
        client = await Client.connect(server.address)
        response = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace="default")
        )
        registered = dict(response.custom_attributes)
        for name in SEARCH_ATTRIBUTES:
            assert registered[name] == IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD

        assert server.ui_url is not None
        async with httpx.AsyncClient() as http:
            assert (await http.get(server.ui_url)).status_code == 200
            # The UI decodes payloads through the API's codec endpoint.
            settings = (await http.get(f"{server.ui_url}/api/v1/settings")).json()
            assert settings["Codec"]["Endpoint"] == codec
        data_dir = server.data_dir
        assert server.db_path.exists()
    assert not data_dir.exists()  # in_temp_dir cleans up


async def test_restart_keeps_workflow_histories(tmp_path: Path) -> None:
    server = TemporalDevServer(
        tmp_path / "temporal",
        port=find_free_port(),
        ui_port=None,
        search_attributes=SEARCH_ATTRIBUTES,
    )
    workflow_id = f"wf-{uuid.uuid4()}"
    try:
        server.start()
        server.wait_ready(timeout_s=30)
        client = await Client.connect(server.address)
        # No worker polls this queue: the workflow just stays running.
        await client.start_workflow("NotImplementedWorkflow", id=workflow_id, task_queue=str(uuid.uuid4()))
        server.stop()
        assert not server.is_running()

        server.start()
        await server.wait_ready_async(timeout_s=30)
        client = await Client.connect(server.address)
        description = await client.get_workflow_handle(workflow_id).describe()
        assert description.workflow_type == "NotImplementedWorkflow"
        assert description.status == WorkflowExecutionStatus.RUNNING
    finally:
        server.stop()


def test_start_fails_with_hint_when_frontend_port_is_taken(tmp_path: Path) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        server = TemporalDevServer(
            tmp_path,
            port=listener.getsockname()[1],
            ui_port=None,
            port_hint="Choose another port with --temporal-port.",
        )
        with pytest.raises(PortInUseError, match=r"\(Temporal frontend\).*--temporal-port"):
            server.start()
    assert not server.is_running()


def test_server_that_exits_early_is_reported_with_its_log(tmp_path: Path) -> None:
    server = TemporalDevServer(tmp_path, port=find_free_port(), ui_port=None, extra_args=["--no-such-flag"])
    server.start()
    try:
        with pytest.raises(TemporalServerError, match="no-such-flag"):
            server.wait_ready(timeout_s=20)
    finally:
        server.stop()


def test_rejects_unknown_search_attribute_type(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="Keyword"):
        TemporalDevServer(tmp_path, search_attributes={"TenantId": "String"})


def test_command_line_carries_persistence_and_tuning(tmp_path: Path) -> None:
    server = TemporalDevServer(tmp_path, port=7300, ui_port=8300, search_attributes={"A": "Int"})
    argv = server.command()
    joined = " ".join(argv)
    assert f"--db-filename {tmp_path / 'temporal.sqlite'}" in joined
    assert "--ip 127.0.0.1 --port 7300" in joined
    assert "--ui-port 8300" in joined
    assert "--search-attribute A=Int" in joined
    assert "--dynamic-config-value history.transferProcessorMaxPollRPS=1000" in joined
    assert server.address == "127.0.0.1:7300"
    assert server.ui_url == "http://127.0.0.1:8300"
