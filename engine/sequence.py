"""A campaign's sequence as an immutable tree, and how a lead walks it (pure, no database).

Steps are stored flat: `position` orders a depth-first walk, `parent` + `branch` place a step in the
tree. After a branch's list ends, the flow continues with the steps after its branching step.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from models.enums import Branch, ConditionType, StepType, TaskType


@dataclass(frozen=True)
class StepView:
    id: int
    position: int
    type: StepType
    parent_id: int | None = None
    branch: Branch = Branch.MAIN
    delay_seconds: int = 0
    subject: str | None = None
    content: str | None = None
    condition: ConditionType | None = None
    wait_for_acceptance_days: int | None = None
    task_type: TaskType | None = None
    title: str | None = None
    ai_variables: tuple[dict[str, Any], ...] = field(default_factory=tuple)

    @classmethod
    def from_model(cls, step: Any) -> StepView:
        return cls(
            id=step.id,
            position=step.position,
            type=StepType(step.type),
            parent_id=step.parent_id,
            branch=Branch(step.branch),
            delay_seconds=step.delay_seconds or 0,
            subject=step.subject,
            content=step.content,
            condition=ConditionType(step.condition) if step.condition else None,
            wait_for_acceptance_days=step.wait_for_acceptance_days,
            task_type=TaskType(step.task_type) if step.task_type else None,
            title=step.title,
            ai_variables=tuple(step.ai_variables or ()),
        )


class Sequence:
    """Navigation over a campaign's steps. `time_scale` divides every delay and wait (the demo's 1440)."""

    def __init__(self, steps: Iterable[StepView], time_scale: float = 1.0) -> None:
        self.steps = sorted(steps, key=lambda s: s.position)
        self.time_scale = time_scale if time_scale and time_scale > 0 else 1.0
        self._by_id = {s.id: s for s in self.steps}
        self._lists: dict[tuple[int | None, Branch], list[StepView]] = defaultdict(list)
        for step in self.steps:
            branch = Branch.MAIN if step.parent_id is None else step.branch
            self._lists[(step.parent_id, branch)].append(step)

    def get(self, step_id: int | None) -> StepView | None:
        return self._by_id.get(step_id) if step_id is not None else None

    def first(self) -> StepView | None:
        main = self._lists.get((None, Branch.MAIN))
        return main[0] if main else None

    def successor(self, step: StepView) -> StepView | None:
        """The step a lead goes to after `step` when no branch is taken (None: the end of the sequence)."""
        branch = Branch.MAIN if step.parent_id is None else step.branch
        siblings = self._lists.get((step.parent_id, branch), [])
        index = next(i for i, s in enumerate(siblings) if s.id == step.id)
        if index + 1 < len(siblings):
            return siblings[index + 1]
        parent = self.get(step.parent_id)
        return self.successor(parent) if parent is not None else None

    def branch_entry(self, step: StepView, branch: Branch) -> StepView | None:
        """Where a lead goes when `step` takes `branch`: its first step, or past `step` if it is empty."""
        children = self._lists.get((step.id, branch))
        return children[0] if children else self.successor(step)
