"""The run_python sandbox: normal runs, and every escape attempt contained with a clear error."""

from __future__ import annotations

import asyncio
import os
import resource
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic_ai import Agent
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
)
from pydantic_ai.models.function import AgentInfo, FunctionModel

from agent_runtime_worker.models.scripted import build_scripted_model
from agent_runtime_worker.tools import HttpGetPolicy, build_builtin_toolset
from agent_runtime_worker.tools.sandbox import (
    RunPythonResult,
    SandboxPolicy,
    SandboxRuntime,
    default_runtime,
    run_python,
)

REPO_ROOT = Path(__file__).resolve().parents[3]
SECRET = "s3cr3t-sandbox-canary-value"
QUICK = SandboxPolicy(timeout_s=2.0, cpu_time_s=2.0)


@pytest.fixture(scope="module")
def runtime() -> SandboxRuntime:
    """The process-wide runtime, compiled (or loaded from the cache) once for the module."""
    sandbox = default_runtime()
    sandbox.warm_up()
    return sandbox


@pytest.fixture
def secret_in_environment() -> Iterator[str]:
    os.environ["AGENT_RUNTIME_SANDBOX_TEST_SECRET"] = SECRET
    try:
        yield SECRET
    finally:
        del os.environ["AGENT_RUNTIME_SANDBOX_TEST_SECRET"]


@pytest.fixture
def listening_socket() -> Iterator[tuple[int, list[socket.socket]]]:
    """A real TCP server on 127.0.0.1; the list collects every connection it accepts."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.05)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except TimeoutError:
                continue
            except OSError:
                return

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1], accepted
    finally:
        stop.set()
        thread.join()
        server.close()
        for connection in accepted:
            connection.close()


def exists(path: Path) -> bool:
    return path.exists()


async def run(runtime: SandboxRuntime, code: str, policy: SandboxPolicy = QUICK) -> RunPythonResult:
    return await run_python(code, policy, runtime=runtime)


# Normal runs


async def test_printed_output_comes_back_in_stdout(runtime: SandboxRuntime) -> None:
    result = await run(runtime, "print('hello', 6 * 7)\nimport sys\nprint('oops', file=sys.stderr)")

    assert result.stdout == "hello 42\n"
    assert result.stderr == "oops\n"
    assert result.error is None
    assert result.error_message is None
    assert result.exit_code == 0
    assert result.result is None
    assert result.duration_ms > 0


async def test_value_of_the_last_expression_is_the_result(runtime: SandboxRuntime) -> None:
    result = await run(runtime, "import json, math\nvalues = [math.sqrt(16), 2]\njson.dumps({'v': values})")

    assert result.result == "'{\"v\": [4.0, 2]}'"
    assert result.error is None


async def test_uncaught_exception_reports_a_traceback_of_the_code_only(runtime: SandboxRuntime) -> None:
    result = await run(runtime, "def divide(a, b):\n    return a / b\n\ndivide(1, 0)")

    assert result.error == "exception"
    assert result.error_message == "ZeroDivisionError: division by zero"
    assert result.exit_code == 1
    assert 'File "<code>", line 4, in <module>' in result.stderr
    assert "return a / b" in result.stderr  # the code's own lines are shown
    assert result.stderr.rstrip().endswith("ZeroDivisionError: division by zero")
    assert "_main" not in result.stderr  # the runner's frames are not


async def test_syntax_error_is_an_exception(runtime: SandboxRuntime) -> None:
    result = await run(runtime, "def broken(:\n    pass")

    assert result.error == "exception"
    assert result.error_message is not None
    assert result.error_message.startswith("SyntaxError")


async def test_sys_exit_status_is_reported(runtime: SandboxRuntime) -> None:
    failed = await run(runtime, "import sys\nprint('bye')\nsys.exit(3)")
    succeeded = await run(runtime, "exit(0)")

    assert (failed.error, failed.exit_code, failed.stdout) == ("exit", 3, "bye\n")
    assert (succeeded.error, succeeded.exit_code) == (None, 0)


async def test_sleep_inside_the_limit_works(runtime: SandboxRuntime) -> None:
    result = await run(
        runtime, "import time\nstart = time.monotonic()\ntime.sleep(0.2)\ntime.monotonic() - start"
    )

    assert result.error is None
    assert result.result is not None
    assert 0.19 <= float(result.result) < 1.5


# Escape attempts


async def test_host_files_such_as_etc_passwd_cannot_be_read(runtime: SandboxRuntime) -> None:
    assert exists(Path("/etc/passwd"))  # the host has it; the guest must not see it

    result = await run(runtime, "print(open('/etc/passwd').read())")

    assert result.error == "exception"
    assert result.error_message is not None
    assert "FileNotFoundError" in result.error_message
    assert "root:" not in result.stdout


async def test_worker_files_cannot_be_listed_or_read(runtime: SandboxRuntime) -> None:
    assert exists(REPO_ROOT / "pyproject.toml")
    code = (
        "import os\n"
        "for path in ['/', '.', '/proc/self/environ', " + repr(str(REPO_ROOT)) + "]:\n"
        "    try:\n"
        "        print(path, 'LISTED', os.listdir(path))\n"
        "    except OSError as error:\n"
        "        print(path, 'refused', type(error).__name__)\n"
        "try:\n"
        "    open(" + repr(str(REPO_ROOT / "pyproject.toml")) + ").read()\n"
        "except OSError as error:\n"
        "    print('file refused', type(error).__name__)\n"
        "open('written-by-the-guest.txt', 'w')\n"
    )

    result = await run(runtime, code)

    assert "LISTED" not in result.stdout
    assert result.stdout.count("refused") == 5
    assert result.error == "exception"  # writing is refused too: there is no directory at all
    assert not exists(Path("written-by-the-guest.txt"))


async def test_worker_environment_and_secrets_are_invisible(
    runtime: SandboxRuntime, secret_in_environment: str
) -> None:
    result = await run(runtime, "import os, sys\nprint(dict(os.environ))\nprint(sys.argv)\nlen(os.environ)")

    assert secret_in_environment not in result.stdout + result.stderr
    assert result.stdout == "{}\n['<code>']\n"
    assert result.result == "0"


async def test_network_is_unreachable_even_to_a_listening_local_server(
    runtime: SandboxRuntime, listening_socket: tuple[int, list[socket.socket]]
) -> None:
    port, accepted = listening_socket
    with socket.create_connection(("127.0.0.1", port), timeout=2):
        pass  # the server really listens: the host can connect to it
    await asyncio.sleep(0.2)
    connections_before = len(accepted)

    code = (
        "import socket\n"
        "for attempt in (\n"
        f"    lambda: socket.create_connection(('127.0.0.1', {port}), timeout=1),\n"
        f"    lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM).connect(('127.0.0.1', {port})),\n"
        "    lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'x', ('127.0.0.1', 53)),\n"
        "):\n"
        "    try:\n"
        "        attempt()\n"
        "        print('CONNECTED')\n"
        "    except (AttributeError, OSError) as error:\n"
        "        print('refused', type(error).__name__, error)\n"
    )
    result = await run(runtime, code)
    await asyncio.sleep(0.2)

    assert connections_before == 1
    assert len(accepted) == connections_before  # the guest never reached it
    assert result.error is None
    assert "CONNECTED" not in result.stdout
    assert result.stdout.splitlines() == [
        "refused AttributeError module '_socket' has no attribute 'getaddrinfo'",
        "refused OSError [Errno 58] Not supported",
        "refused OSError [Errno 58] Not supported",
    ]


async def test_processes_cannot_be_started(runtime: SandboxRuntime) -> None:
    code = (
        "import os, subprocess\n"
        "for attempt in (lambda: os.fork(), lambda: os.system('id'), lambda: subprocess.run(['id']),\n"
        "                lambda: os.execv('/bin/sh', ['sh'])):\n"
        "    try:\n"
        "        attempt()\n"
        "        print('STARTED')\n"
        "    except (AttributeError, OSError) as error:\n"
        "        print('refused', type(error).__name__)\n"
        "while True:\n"
        "    os.fork()  # the classic fork bomb\n"
    )

    result = await run(runtime, code)

    assert "STARTED" not in result.stdout
    assert result.stdout.count("refused") == 4
    assert result.error == "exception"
    assert result.error_message == "AttributeError: module 'os' has no attribute 'fork'"


async def test_threads_cannot_be_started(runtime: SandboxRuntime) -> None:
    result = await run(runtime, "import threading\nthreading.Thread(target=print).start()")

    assert result.error == "exception"
    assert result.error_message == "RuntimeError: can't start new thread"


async def test_infinite_loop_is_stopped_by_the_wall_time_limit(runtime: SandboxRuntime) -> None:
    started = time.monotonic()
    result = await run(runtime, "print('before')\nwhile True:\n    pass", SandboxPolicy(timeout_s=0.5))

    assert result.error == "timeout"
    assert result.error_message == "stopped after the wall-time limit of 0.5 s"
    assert result.stdout == "before\n"  # output printed before the limit is kept
    assert time.monotonic() - started < 3


async def test_long_sleep_is_stopped_by_the_wall_time_limit(runtime: SandboxRuntime) -> None:
    started = time.monotonic()
    result = await run(runtime, "import time\ntime.sleep(60)", SandboxPolicy(timeout_s=0.5))

    assert result.error == "timeout"
    assert time.monotonic() - started < 3


async def test_busy_loop_is_stopped_by_the_cpu_time_limit(runtime: SandboxRuntime) -> None:
    result = await run(runtime, "while True:\n    pass", SandboxPolicy(timeout_s=30, cpu_time_s=0.5))

    assert result.error == "cpu_time"
    assert result.error_message == "stopped after the CPU-time limit of 0.5 s"
    assert result.duration_ms < 10_000


async def test_one_gigabyte_allocation_fails_inside_the_guest_only(runtime: SandboxRuntime) -> None:
    worker_peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    result = await run(runtime, "data = bytearray(1024 ** 3)\nlen(data)")
    growing = await run(runtime, "chunks = []\nwhile True:\n    chunks.append(bytearray(10 ** 6))")

    assert result.error == "memory"
    assert result.error_message == f"MemoryError: out of memory (limit {QUICK.memory_bytes} bytes)"
    assert "MemoryError" in result.stderr
    assert growing.error == "memory"
    # The worker's own peak memory grew by far less than the 1 GB asked for, and it still works.
    worker_peak_growth_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - worker_peak_before
    assert worker_peak_growth_kib < QUICK.memory_bytes // 1024 + 64 * 1024
    assert (await run(runtime, "1 + 1")).result == "2"


async def test_output_flood_is_truncated(runtime: SandboxRuntime) -> None:
    policy = SandboxPolicy(timeout_s=10.0, max_output_bytes=10_000)
    result = await run(
        runtime,
        "import sys\nfor _ in range(1_000):\n    print('x' * 100)\n    print('y' * 100, file=sys.stderr)\n'z' * 10 ** 6",
        policy,
    )

    assert result.error is None
    assert result.stdout_truncated
    assert result.stderr_truncated
    assert result.result_truncated
    assert len(result.stdout.encode()) == 10_000
    assert len(result.stderr.encode()) == 10_000
    assert result.result is not None
    assert len(result.result) == 10_000


async def test_infinite_output_is_truncated_and_stopped(runtime: SandboxRuntime) -> None:
    result = await run(
        runtime, "while True:\n    print('x' * 1000)", SandboxPolicy(timeout_s=0.5, max_output_bytes=5_000)
    )

    assert result.error == "timeout"
    assert result.stdout_truncated
    assert len(result.stdout) == 5_000


async def test_nothing_leaks_from_one_call_to_the_next(runtime: SandboxRuntime) -> None:
    first = await run(
        runtime,
        "import sys, builtins\n"
        "LEFT_BEHIND = 'first call'\n"
        "builtins.LEFT_BEHIND = 'first call'\n"
        "sys.modules['left_behind'] = sys\n"
        "try:\n"
        "    open('/tmp/left-behind.txt', 'w').write('first call')\n"
        "except OSError as error:\n"
        "    print('no file', type(error).__name__)\n"
        "'ok'",
    )
    second = await run(
        runtime,
        "import sys, builtins, os\n"
        "print('LEFT_BEHIND' in globals(), hasattr(builtins, 'LEFT_BEHIND'), 'left_behind' in sys.modules)\n"
        "print(os.path.exists('/tmp/left-behind.txt'))",
    )

    assert first.result == "'ok'"
    assert first.stdout == "no file FileNotFoundError\n"
    assert second.stdout == "False False False\nFalse\n"


async def test_cancelling_the_call_stops_the_guest(runtime: SandboxRuntime) -> None:
    task = asyncio.create_task(
        run(runtime, "while True:\n    pass", SandboxPolicy(timeout_s=60, cpu_time_s=60))
    )
    await asyncio.sleep(0.5)
    started = time.monotonic()

    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    # The guest stopped promptly (the runtime waits for it), so its thread is free again.
    assert time.monotonic() - started < 2
    assert (await run(runtime, "'still working'")).result == "'still working'"


async def test_event_loop_keeps_running_while_code_runs(runtime: SandboxRuntime) -> None:
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticker = asyncio.create_task(tick())
    result = await run(runtime, "while True:\n    pass", SandboxPolicy(timeout_s=0.5))
    ticker.cancel()

    assert result.error == "timeout"
    assert ticks > 10


async def test_calls_run_concurrently_in_separate_instances() -> None:
    runtime = SandboxRuntime(max_concurrency=2)
    codes = [f"import time\nvalue = {n}\ntime.sleep(0.3)\nvalue" for n in range(4)]

    started = time.monotonic()
    results = await asyncio.gather(*(run(runtime, code) for code in codes))

    assert [result.result for result in results] == ["0", "1", "2", "3"]
    assert time.monotonic() - started < 3


# Through the toolset


async def test_run_python_tool_is_offered_and_returns_results_to_the_model(runtime: SandboxRuntime) -> None:
    returned: list[ToolReturnPart] = []
    policies_read: list[SandboxPolicy] = []

    def policy() -> SandboxPolicy:
        policies_read.append(QUICK)
        return QUICK

    def scripted_model(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        last = messages[-1]
        assert isinstance(last, ModelRequest)
        returned.extend(part for part in last.parts if isinstance(part, ToolReturnPart))
        if returned:
            return ModelResponse(parts=[TextPart("done")])
        assert "run_python" in [tool.name for tool in info.function_tools]
        return ModelResponse(
            parts=[
                ToolCallPart(
                    "run_python", {"code": "print(sum(range(10)))\nsum(range(5))"}, tool_call_id="ok"
                ),
                ToolCallPart("run_python", {"code": "while True: pass"}, tool_call_id="loop"),
                ToolCallPart("run_python", {"code": ""}, tool_call_id="empty"),
            ]
        )

    toolset = build_builtin_toolset(HttpGetPolicy(), sandbox_policy=policy)
    await Agent(FunctionModel(scripted_model), toolsets=[toolset]).run("compute")

    parts = {part.tool_call_id: part for part in returned}
    ok, loop = parts["ok"].content, parts["loop"].content
    assert isinstance(ok, RunPythonResult)
    assert (ok.stdout, ok.result, ok.error) == ("45\n", "10", None)
    # A limit reached is a result the model reads, not a retry.
    assert parts["loop"].outcome == "success"
    assert isinstance(loop, RunPythonResult)
    assert loop.error == "timeout"
    assert parts["empty"].outcome == "retried"  # invalid arguments go back as a retry prompt
    assert len(policies_read) == 2  # read at call time, once per call


def test_run_python_tool_schema_takes_only_the_code() -> None:
    tool = build_builtin_toolset(HttpGetPolicy()).tools["run_python"]

    schema = tool.tool_def.parameters_json_schema
    assert list(schema["properties"]) == ["code"]  # the limits are not the model's to set
    assert schema["required"] == ["code"]
    assert "sandbox" in (tool.tool_def.description or "")


async def test_scripted_model_runs_the_prompts_code_block(runtime: SandboxRuntime) -> None:
    toolset = build_builtin_toolset(HttpGetPolicy(), sandbox_policy=QUICK)
    agent = Agent(
        build_scripted_model(), toolsets=[toolset.filtered(lambda _ctx, tool: tool.name == "run_python")]
    )

    result = await agent.run("Please run:\n```python\nprint('from the block')\n6 * 7\n```\nThanks.")

    assert "run_python" in result.output
    assert "from the block" in result.output
    assert "result='42'" in result.output
