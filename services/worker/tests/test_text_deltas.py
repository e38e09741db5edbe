"""Coalescing of streamed model text into `model.text.delta` writes (timing, order, draining)."""

from __future__ import annotations

import asyncio
import itertools

from agent_runtime_worker.agents.model_events import TextDeltaCoalescer


class Writes:
    """Records each write with its start time; each takes ``duration_s`` (a database write)."""

    def __init__(self, duration_s: float = 0.005) -> None:
        self.duration_s = duration_s
        self.items: list[tuple[str, int, float]] = []
        self.started = asyncio.Event()

    async def __call__(self, text: str, index: int) -> None:
        self.items.append((text, index, asyncio.get_running_loop().time()))
        self.started.set()
        await asyncio.sleep(self.duration_s)


async def test_first_chunk_is_written_at_once_then_at_most_one_write_per_interval() -> None:
    writes = Writes()
    deltas = TextDeltaCoalescer(writes, interval_s=0.05)
    loop = asyncio.get_running_loop()
    chunks = [f"w{i} " for i in range(30)]
    began = loop.time()
    await deltas.add(chunks[0])
    assert [text for text, _, _ in writes.items] == [chunks[0]]  # before add() returned
    for chunk in chunks[1:]:
        await asyncio.sleep(0.01)  # a model producing ~100 chunks/s for 0.3 s
        await deltas.add(chunk)
    elapsed = loop.time() - began
    rest, index = await deltas.drain()
    written = "".join(text for text, _, _ in writes.items)
    assert written + rest == "".join(chunks)
    assert [i for _, i, _ in writes.items] == list(range(len(writes.items)))
    assert index == len(writes.items)
    assert deltas.writes == len(writes.items) + (1 if rest else 0)
    starts = [at for _, _, at in writes.items]
    assert starts[0] - began < 0.01
    assert all(later - earlier >= 0.045 for earlier, later in itertools.pairwise(starts))
    assert 3 <= len(writes.items) <= elapsed / 0.05 + 1  # ~0.3 s / 50 ms: ~7 writes, not 30


async def test_drain_lets_a_write_in_progress_finish_and_keeps_order() -> None:
    writes = Writes(duration_s=0.03)
    deltas = TextDeltaCoalescer(writes, interval_s=0.01)
    await deltas.add("a")
    await deltas.add("b")
    writes.started.clear()
    await writes.started.wait()  # the timer is writing "b"
    await deltas.add("c")  # arrives during that write
    rest, index = await deltas.drain()
    assert [(text, i) for text, i, _ in writes.items] == [("a", 0), ("b", 1)]
    assert (rest, index) == ("c", 2)


async def test_a_full_buffer_is_written_without_waiting() -> None:
    writes = Writes()
    deltas = TextDeltaCoalescer(writes, interval_s=10, max_chars=10)
    await deltas.add("first")
    await deltas.add("12345")
    assert len(writes.items) == 1
    await deltas.add("67890")
    assert [text for text, _, _ in writes.items] == ["first", "1234567890"]
    assert await deltas.drain() == ("", 2)


async def test_abort_writes_nothing_more() -> None:
    writes = Writes()
    deltas = TextDeltaCoalescer(writes, interval_s=0.02)
    await deltas.add("a")
    await deltas.add("b")
    deltas.abort()
    await deltas.add("c")
    await asyncio.sleep(0.05)
    assert [text for text, _, _ in writes.items] == ["a"]
