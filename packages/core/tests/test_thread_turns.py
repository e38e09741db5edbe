"""The turn-taking rules (``admit``, ``hand_over``) as a state machine: whatever the order of
admissions and run endings, one run has the turn at a time and the queue keeps its order."""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from agent_runtime_core.models.thread import MultitaskStrategy
from agent_runtime_core.repositories.threads import admit, hand_over


class ThreadTurns(RuleBasedStateMachine):
    """A thread, runs admitted with random strategies, and runs ending in random order."""

    @initialize()
    def idle(self) -> None:
        self.active: str | None = None
        self.queue: list[str] = []
        self.strategies: dict[str, MultitaskStrategy] = {}
        self.admitted = 0
        self.started: list[str] = []
        self.cancelling: set[str] = set()
        self.ended: set[str] = set()
        self.admitted_idle: set[str] = set()

    def _start(self, run_id: str | None) -> None:
        if run_id is not None and run_id not in self.started:
            self.started.append(run_id)

    @rule(strategy=st.sampled_from(MultitaskStrategy))
    def admit_a_run(self, strategy: MultitaskStrategy) -> None:
        self.admitted += 1
        run_id = f"run_{self.admitted:03d}"
        queued = [(queued_id, self.strategies[queued_id]) for queued_id in self.queue]
        was_idle = self.active is None
        admission = admit(self.active, queued, run_id, strategy)
        if was_idle:
            assert admission.active_run_id == run_id and not admission.rejected
            self.admitted_idle.add(run_id)
        elif strategy == MultitaskStrategy.REJECT:
            assert admission.rejected and admission.queued_run_ids == self.queue
            return
        else:
            assert admission.active_run_id == self.active
            assert run_id in admission.queued_run_ids
        if admission.cancel_run_id is not None:
            assert admission.cancel_run_id == self.active
            self.cancelling.add(admission.cancel_run_id)
        self.strategies[run_id] = strategy
        self.active, self.queue = admission.active_run_id, admission.queued_run_ids
        self._start(self.active)

    @precondition(lambda self: self.active is not None)
    @rule()
    def active_run_ends(self) -> None:
        assert self.active is not None
        ended = self.active
        self.active, self.queue = hand_over(self.active, self.queue, ended)
        self.ended.add(ended)
        self._start(self.active)

    @precondition(lambda self: bool(self.queue))
    @rule(data=st.data())
    def queued_run_is_cancelled(self, data: st.DataObject) -> None:
        cancelled = data.draw(st.sampled_from(self.queue))
        before = self.active
        self.active, self.queue = hand_over(self.active, self.queue, cancelled)
        assert self.active == before and cancelled not in self.queue
        self.ended.add(cancelled)

    @invariant()
    def one_run_has_the_turn_and_idle_means_nobody_waits(self) -> None:
        if self.active is None:
            assert self.queue == []
        assert self.active not in self.queue
        assert len(set(self.queue)) == len(self.queue)
        assert not (set(self.queue) | {self.active}) & self.ended

    @invariant()
    def interrupters_wait_ahead_of_enqueued_runs(self) -> None:
        kinds = [self.strategies[run_id].interrupts for run_id in self.queue]
        assert kinds == sorted(kinds, reverse=True)

    @invariant()
    def runs_of_one_kind_get_the_turn_in_admission_order(self) -> None:
        # Runs admitted while idle start at once, whatever they asked for: not compared.
        for interrupts in (True, False):
            of_kind = [
                run_id
                for run_id in self.started
                if self.strategies[run_id].interrupts == interrupts and run_id not in self.admitted_idle
            ]
            assert of_kind == sorted(of_kind)


TestThreadTurns = ThreadTurns.TestCase
TestThreadTurns.settings = settings(max_examples=300, stateful_step_count=40, deadline=None)
