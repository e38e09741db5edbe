"""Following a run live (``runs start --follow``, ``runs tail``, ``runs start --wait``).

The run's event stream drives a terminal view: the model's text as it streams, each tool call
with its arguments and then its result, a spinner while a step runs, and the final status with
usage and cost. When the run waits for a human (``run.waiting``) the view asks the API what is
pending — the source of truth even when the stream replays an old run's history — and, on a
terminal, asks the user there and then (approve or reject with a reason; type the answer); the
stream then goes on. Without a terminal to ask on, it prints the exact commands that decide
and keeps following (``--no-wait``: exits with :attr:`ExitCode.NEEDS_HUMAN` instead).

``--output json`` prints the events as JSON Lines instead (``yaml``: YAML documents) and never
prompts; messages for the user go to stderr.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import typer
import yaml
from rich.console import Console
from rich.status import Status
from rich.text import Text

from agent_runtime_cli.remote.context import Cli, ExitCode
from agent_runtime_cli.remote.output import OutputFormat, compact, jsonable, money, write_json_line
from agent_runtime_client import (
    Approval,
    ConflictError,
    EventType,
    Question,
    Run,
    RunEvent,
    RunStatus,
)

EXIT_BY_STATUS: dict[str, ExitCode] = {
    RunStatus.SUCCEEDED: ExitCode.OK,
    RunStatus.FAILED: ExitCode.RUN_FAILED,
    RunStatus.CANCELLED: ExitCode.RUN_CANCELLED,
    RunStatus.TIMED_OUT: ExitCode.RUN_TIMED_OUT,
}

_APPROVE = {"a", "approve", "y", "yes"}
_REJECT = {"r", "reject", "n", "no"}
_SKIP = {"s", "skip"}


class FollowMode(StrEnum):
    """What following prints."""

    LIVE = "live"
    """The terminal view."""
    EVENTS = "events"
    """Each event as data (JSON Lines or YAML documents)."""
    QUIET = "quiet"
    """Nothing until the end (``--wait``): then the run, as ``runs get`` prints it."""


def exit_code(run: Run) -> ExitCode:
    """The exit code a followed run ends the command with."""
    return EXIT_BY_STATUS.get(str(run.status), ExitCode.OK)


def _call(tool: str | None, args: Any) -> str:
    return f"{tool or '?'}({compact(args, 200) if args not in (None, {}) else ''})"


@dataclass
class RunFollower:
    """Follows one run to its end, showing it and bringing its humans in."""

    cli: Cli
    run: Run
    mode: FollowMode
    interactive: bool
    """Whether approvals and questions may be asked on this terminal."""
    no_wait: bool = False
    """Without a terminal to ask on, exit (code 6) instead of waiting for a human."""
    _status: Status | None = None
    _mid_line: bool = False
    _streamed_text: bool = False
    _steps_with_text: set[tuple[int, int]] = field(default_factory=set[tuple[int, int]])
    _running_tools: dict[str, str] = field(default_factory=dict[str, str])
    _announced: set[str] = field(default_factory=set[str])
    """Pending requests whose hint was printed, or that the user skipped."""
    _shown: set[str] = field(default_factory=set[str])
    """Requests whose event the view printed (a prompt need not repeat them)."""

    @property
    def _screen(self) -> Console:
        return self.cli.out

    # ---------------------------------------------------------------------------- follow

    def follow(self) -> Run:
        """Show the run until it ends; return it as it ended."""
        client = self.cli.client
        try:
            with client.runs.stream(self.run.id) as events:
                for event in events:
                    self._show(event)
                    if event.type == EventType.RUN_WAITING:
                        self._attend()
                    if event.is_terminal:
                        break
            self.run = client.runs.wait(self.run.id, timeout=30)
        except KeyboardInterrupt:
            self._spinner(None)
            self._end_line()
            self.cli.err.print(
                Text(
                    f"Stopped following {self.run.id}; it goes on. Follow it again: "
                    f"{self.cli.command('runs', 'tail', self.run.id)}; stop it: "
                    f"{self.cli.command('runs', 'cancel', self.run.id)}",
                    style="dim",
                )
            )
            raise typer.Exit(ExitCode.INTERRUPTED) from None
        finally:
            self._spinner(None)
        if self.mode == FollowMode.LIVE:
            self._summary()
        return self.run

    # ---------------------------------------------------------------------------- events

    def _show(self, event: RunEvent) -> None:
        if self.mode == FollowMode.EVENTS:
            if self.cli.output == OutputFormat.YAML:
                sys.stdout.write(
                    "---\n" + yaml.safe_dump(jsonable(event), sort_keys=False, allow_unicode=True)
                )
                sys.stdout.flush()
            else:
                write_json_line(event)
            return
        if self.mode == FollowMode.LIVE:
            self._render(event)

    def _render(self, event: RunEvent) -> None:
        kind = event.type
        if (delta := event.text) is not None:
            self._spinner(None)
            if delta.delta:
                self._screen.print(delta.delta, end="", markup=False, highlight=False, soft_wrap=True)
                self._mid_line = not delta.delta.endswith("\n")
                self._streamed_text = True
                self._steps_with_text.add((delta.step, delta.attempt))
        elif kind == EventType.RUN_QUEUED:
            self._spinner("queued: waiting for a worker")
        elif kind in (EventType.RUN_STARTED, EventType.RUN_RESUMED):
            self._spinner("running")
        elif kind == EventType.MODEL_REQUEST_STARTED:
            data = event.data
            if int(data.get("attempt", 1) or 1) > 1:
                self._line(Text(f"↻ model request retried (attempt {data.get('attempt')})", style="dim"))
            self._spinner(f"waiting for {data.get('model') or 'the model'}")
        elif kind == EventType.MODEL_REQUEST_FINISHED:
            self._spinner(None)
            data = event.data
            text, key = data.get("text"), (int(data.get("step", 0) or 0), int(data.get("attempt", 1) or 1))
            if isinstance(text, str) and text and key not in self._steps_with_text:
                self._screen.print(text, markup=False, highlight=False, soft_wrap=True)  # not streamed
                self._streamed_text = True
            self._end_line()
        elif kind == EventType.MODEL_FALLBACK:
            data = event.data
            self._line(Text(f"↪ {data.get('from')} failed, trying {data.get('to')}", style="yellow"))
        elif (call := event.tool_call) is not None:
            self._line(Text.assemble(("→ ", "cyan"), (_call(call.tool, call.args), "cyan")))
            self._running_tools[call.tool_call_id] = call.tool
            self._spinner(f"running {', '.join(sorted(set(self._running_tools.values())))}")
        elif (result := event.tool_result) is not None:
            self._running_tools.pop(result.tool_call_id, None)
            if result.ok:
                self._line(Text.assemble(("← ", "green"), f"{result.tool}: ", compact(result.result, 300)))
            else:
                self._line(
                    Text.assemble(("✘ ", "red"), f"{result.tool} failed: ", compact(result.error, 300))
                )
            tools = sorted(set(self._running_tools.values()))
            self._spinner(f"running {', '.join(tools)}" if tools else "running")
        elif (approval := event.approval_request) is not None:
            self._shown.add(approval.request_id)
            self._line(
                Text.assemble(
                    ("⏸ approval needed: ", "yellow"),
                    _call(approval.tool, approval.args),
                    (f"  {approval.request_id}", "dim"),
                )
            )
        elif (question := event.question) is not None:
            self._shown.add(question.request_id)
            self._line(
                Text.assemble(
                    ("? the agent asks: ", "yellow"),
                    question.question or "",
                    (f"  {question.request_id}", "dim"),
                )
            )
        elif kind in (EventType.APPROVAL_DECIDED, EventType.INPUT_ANSWERED):
            request = event.human_request
            if request is not None:
                self._decided(request.status, request.decided_by, request.reason, request.answer)
        elif kind in (
            EventType.APPROVAL_EXPIRED,
            EventType.APPROVAL_CANCELLED,
            EventType.INPUT_EXPIRED,
            EventType.INPUT_CANCELLED,
        ):
            what = "approval" if kind.startswith("approval") else "question"
            self._line(Text(f"{what} {kind.rsplit('.', 1)[-1]}", style="dim"))
        elif kind == EventType.RUN_WAITING:
            self._spinner(None)
        elif kind == EventType.THREAD_SUMMARIZED:
            self._line(Text("(thread summarized)", style="dim"))
        elif event.is_terminal:
            self._spinner(None)
            self._end_line()

    def _decided(self, status: str, by: str | None, reason: str | None, answer: str | None) -> None:
        who = f" by {by}" if by else ""
        if status == "approved":
            self._line(Text(f"✔ approved{who}", style="green"))
        elif status == "rejected":
            self._line(Text(f"✘ rejected{who}" + (f": {reason}" if reason else ""), style="red"))
        else:
            self._line(Text(f"✔ answered{who}: {compact(answer, 200)}", style="green"))

    def _summary(self) -> None:
        run = self.run
        self._end_line()
        if not self._streamed_text and run.output is not None:
            output = run.output if isinstance(run.output, str) else json.dumps(run.output, indent=2)
            self._screen.print(output, markup=False, highlight=False)
        usage = run.usage
        facts = [f"{usage.requests} model request{'s' if usage.requests != 1 else ''}"]
        facts.append(f"{usage.input_tokens} in / {usage.output_tokens} out tokens")
        facts.append("cost " + money(usage.cost_usd))
        if run.started_at and run.finished_at:
            facts.append(f"{(run.finished_at - run.started_at).total_seconds():.1f} s")
        status = str(run.status)
        mark, style = {
            "succeeded": ("✔", "bold green"),
            "failed": ("✘", "bold red"),
            "timed_out": ("⏱", "bold red"),
            "cancelled": ("■", "bold magenta"),
        }.get(status, ("•", "bold"))
        line = Text.assemble((f"{mark} {status}", style), ("  " + " · ".join(facts), "dim"))
        self._screen.print(line)
        if run.error is not None:
            self._screen.print(
                Text.assemble(("  ", ""), (run.error.code, "bold red"), f": {run.error.message}")
            )

    # ---------------------------------------------------------------------------- humans

    def _attend(self) -> None:
        """The run waits: ask the user about what is pending, or say how to decide it."""
        client = self.cli.client
        approvals = [a for a in client.approvals.pending(self.run.id) if a.id not in self._announced]
        questions = [q for q in client.questions.pending(self.run.id) if q.id not in self._announced]
        if not approvals and not questions:
            return
        self._spinner(None)
        self._end_line()
        if self.interactive:
            for approval in approvals:
                self._ask_approval(approval)
            for question in questions:
                self._ask_question(question)
            if any(request.id in self._announced for request in [*approvals, *questions]):
                self._spinner("waiting for a human (Ctrl-C stops following; the run goes on)")
            return
        for approval in approvals:
            self._hint_approval(approval)
        for question in questions:
            self._hint_question(question)
        if self.no_wait:
            self.cli.err.print(Text(f"{self.run.id} waits for a human; exiting (--no-wait).", style="dim"))
            raise typer.Exit(ExitCode.NEEDS_HUMAN)
        self.cli.err.print(
            Text("Waiting for the decision… (Ctrl-C stops following; the run goes on)", style="dim")
        )

    def _hint_approval(self, approval: Approval) -> None:
        self._announced.add(approval.id)
        err = self.cli.err
        err.print(
            Text.assemble(
                ("⏸ ", "yellow"),
                f"{self.run.id} waits for approval {approval.id}: ",
                (_call(approval.tool, approval.args), "bold"),
            )
        )
        err.print(f"  approve: {self.cli.command('approvals', 'approve', approval.id)}", markup=False)
        err.print(
            f"  reject:  {self.cli.command('approvals', 'reject', approval.id)} --reason '…'", markup=False
        )

    def _hint_question(self, question: Question) -> None:
        self._announced.add(question.id)
        err = self.cli.err
        err.print(
            Text.assemble(
                ("? ", "yellow"), f"{self.run.id} asks ({question.id}): ", (question.question, "bold")
            )
        )
        err.print(f"  answer: {self.cli.command('questions', 'answer', question.id)} '…'", markup=False)

    def _read(self, prompt: Text) -> str | None:
        """A line typed by the user (``None`` at end of input)."""
        try:
            return self._screen.input(prompt).strip()
        except EOFError:
            self._screen.print()
            return None

    def _ask_approval(self, approval: Approval) -> None:
        screen = self._screen
        if approval.id not in self._shown:
            screen.print(
                Text.assemble(
                    ("⏸ approval needed: ", "yellow"),
                    _call(approval.tool, approval.args),
                    (f"  {approval.id}", "dim"),
                )
            )
        while True:
            choice = self._read(Text.assemble("  Approve? ", ("[a]pprove / [r]eject / [s]kip", "bold"), ": "))
            if choice is None or choice.lower() in _SKIP:
                self._announced.add(approval.id)
                self._hint_approval(approval)
                return
            if choice.lower() in _APPROVE | _REJECT:
                break
            screen.print(Text("  Type a, r or s.", style="dim"))
        decision = "approve" if choice.lower() in _APPROVE else "reject"
        reason = None
        if decision == "reject":
            reason = self._read(Text("  Reason (optional, told to the model): ")) or None
        try:
            decided = self.cli.client.approvals.decide(self.run.id, approval.id, decision, reason=reason)
        except ConflictError as error:
            screen.print(Text(f"  Not {decision}d: {error.detail}", style="yellow"))
            return
        screen.print(Text(f"  {decided.status} {decided.id}", style="dim"))

    def _ask_question(self, question: Question) -> None:
        screen = self._screen
        if question.id not in self._shown:
            screen.print(
                Text.assemble(
                    ("? the agent asks: ", "yellow"), question.question, (f"  {question.id}", "dim")
                )
            )
        answer = self._read(Text("  Your answer (empty to skip): "))
        if not answer:
            self._announced.add(question.id)
            self._hint_question(question)
            return
        try:
            answered = self.cli.client.questions.answer(self.run.id, answer, request_id=question.id)
        except ConflictError as error:
            screen.print(Text(f"  Not answered: {error.detail}", style="yellow"))
            return
        screen.print(Text(f"  {answered.status} {answered.id}", style="dim"))

    # ---------------------------------------------------------------------------- screen

    def _spinner(self, text: str | None) -> None:
        """Show a spinner with ``text`` (``None``: hide it). Only on a terminal, in the live view."""
        if text is None or self.mode != FollowMode.LIVE or not self._screen.is_terminal:
            if self._status is not None:
                self._status.stop()
                self._status = None
            return
        self._end_line()
        if self._status is None:
            self._status = self._screen.status(Text(text, style="dim"), spinner="dots")
            self._status.start()
        else:
            self._status.update(Text(text, style="dim"))

    def _end_line(self) -> None:
        if self._mid_line:
            self._screen.print()
            self._mid_line = False

    def _line(self, text: Text) -> None:
        self._end_line()
        self._screen.print(text)
