"""The sequence: a tree of steps, validated as a whole and written as rows in depth-first order.

Input arrives as plain dicts (snake_case keys, omitted keys absent) from the resolvers. Validation
reports every problem at once, each with the full path of the offending input in the contract's
camelCase names (["input", "steps", "0", "onTrue", "1", "title"]), so a client can mark every field.

Rows: `position` is the 1-based order of a depth-first walk (a branching step, then its first branch,
then its second branch, then the next sibling); `parent` + `branch` place a step under its branching step.
Changing existing steps (stepUpdates, launched campaigns too) is domain/step_updates.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from domain import validation
from domain.errors import DomainError, DomainErrors, InvalidInput
from domain.templates import AI_NAME, unknown_placeholders
from models import SequenceStep
from models.enums import Branch, StepType

#: Which branch lists each step type may carry, in depth-first order, with their input names.
BRANCHES: dict[StepType, tuple[tuple[Branch, str, str], ...]] = {
    StepType.CONDITION: ((Branch.ON_TRUE, "on_true", "onTrue"), (Branch.ON_FALSE, "on_false", "onFalse")),
    StepType.LINKEDIN_CONNECTION: (
        (Branch.ACCEPTED, "on_accepted", "onAccepted"),
        (Branch.NOT_ACCEPTED, "on_not_accepted", "onNotAccepted"),
    ),
}
ALL_BRANCH_KEYS = (
    ("on_true", "onTrue"),
    ("on_false", "onFalse"),
    ("on_accepted", "onAccepted"),
    ("on_not_accepted", "onNotAccepted"),
)
#: Channel limits (domain.md): longer is what the engine would fail with MESSAGE_TOO_LONG, so refuse it
#: when the step is saved. (field, step type) -> max characters of the template; other types take
#: DEFAULT_TEXT_LIMITS.
TEXT_LIMITS: dict[tuple[str, StepType], int] = {
    ("content", StepType.LINKEDIN_CONNECTION): validation.LINKEDIN_NOTE,
    ("content", StepType.LINKEDIN_MESSAGE): validation.LINKEDIN_MESSAGE,
    ("content", StepType.LINKEDIN_INMAIL): validation.LINKEDIN_MESSAGE,
    ("subject", StepType.LINKEDIN_INMAIL): validation.INMAIL_SUBJECT,
}
DEFAULT_TEXT_LIMITS = {"subject": validation.EMAIL_SUBJECT, "content": validation.EMAIL_CONTENT}
#: Delays are days 0..365, hours 0..23 and minutes 0..59, so delay_seconds stays well inside 32 bits.
MAX_DELAY_SECONDS = 366 * 86400
DELAY_PARTS = {"days": validation.DELAY_DAYS, "hours": validation.DELAY_HOURS, "minutes": validation.DELAY_MINUTES}
MAX_STEPS = 500
MAX_AI_VARIABLES = 20


@dataclass
class StepSpec:
    """One validated step, independent of where it came from (input or stored rows)."""

    type: StepType
    delay_seconds: int = 0
    subject: str | None = None
    content: str | None = None
    condition: Any = None
    wait_for_acceptance_days: int | None = None
    task_type: Any = None
    title: str | None = None
    ai_variables: list[dict[str, str]] = field(default_factory=list)
    branches: list[tuple[Branch, list[StepSpec]]] = field(default_factory=list)
    #: Where errors about this step point (the input path of the step).
    path: list[str] = field(default_factory=list)
    #: Stored row id, when built from rows (stepUpdates).
    id: int | None = None
    #: stepUpdates: the path of the update that set each field (two updates may name one step).
    field_paths: dict[str, list[str]] = field(default_factory=dict)


# ------------------------------------------------------------------ parsing and validation


def delay_seconds(delay: Mapping[str, Any] | None) -> int:
    if not delay:
        return 0
    return (
        int(delay.get("days") or 0) * 86400 + int(delay.get("hours") or 0) * 3600 + int(delay.get("minutes") or 0) * 60
    )


def delay_errors(delay: Mapping[str, Any] | None, path: list[str]) -> list[DomainError]:
    if not delay:
        return []
    errors: list[DomainError] = []
    for part, bounds in DELAY_PARTS.items():
        validation.integer(delay.get(part) or 0, [*path, "delay", part], errors, bounds)
    if not errors and delay_seconds(delay) > MAX_DELAY_SECONDS:
        errors.append(InvalidInput("A delay can be at most 366 days.", [*path, "delay"]))
    return errors


def parse_steps(raw: Sequence[Mapping[str, Any]] | None, path: Sequence[str]) -> list[StepSpec]:
    """Input dicts -> a validated tree. Raises DomainErrors with every problem found."""
    errors: list[DomainError] = []
    specs = _parse_list(raw or [], list(path), errors)
    if _count(specs) > MAX_STEPS:
        errors.append(InvalidInput(f"A sequence has at most {MAX_STEPS} steps.", list(path)))
    errors += validate_tree(specs)
    if errors:
        raise DomainErrors(errors)
    return specs


def _count(specs: list[StepSpec]) -> int:
    return sum(1 + sum(_count(children) for _, children in spec.branches) for spec in specs)


def _parse_list(raw: Sequence[Mapping[str, Any]], path: list[str], errors: list[DomainError]) -> list[StepSpec]:
    specs = []
    for i, item in enumerate(raw):
        step_path = [*path, str(i)]
        step_type = StepType(item["type"])
        errors += delay_errors(item.get("delay"), step_path)
        allowed = {key for _, key, _ in BRANCHES.get(step_type, ())}
        for key, name in ALL_BRANCH_KEYS:
            if key not in allowed and item.get(key):
                owner = "CONDITION" if key in ("on_true", "on_false") else "LINKEDIN_CONNECTION"
                errors.append(InvalidInput(f"Only a {owner} step can have {name}.", [*step_path, name]))
                _parse_list(item[key], [*step_path, name], errors)  # still report what is wrong inside
        branches = [
            (branch, _parse_list(item.get(key) or [], [*step_path, name], errors))
            for branch, key, name in BRANCHES.get(step_type, ())
        ]
        specs.append(
            StepSpec(
                type=step_type,
                delay_seconds=max(0, delay_seconds(item.get("delay"))),
                subject=item.get("subject"),
                content=item.get("content"),
                condition=item.get("condition") if step_type == StepType.CONDITION else None,
                wait_for_acceptance_days=(
                    item.get("wait_for_acceptance_days") if step_type == StepType.LINKEDIN_CONNECTION else None
                ),
                task_type=item.get("task_type") if step_type == StepType.TASK else None,
                title=item.get("title") if step_type == StepType.TASK else None,
                ai_variables=[{"name": v["name"], "prompt": v["prompt"]} for v in item.get("ai_variables") or []],
                branches=branches,
                path=step_path,
            )
        )
    return specs


def validate_tree(specs: list[StepSpec], only: set[int] | None = None) -> list[DomainError]:
    """Every rule a stored sequence keeps. `only`: report problems of these stored steps only."""
    errors: list[DomainError] = []
    _validate_list(specs, True, errors)
    if only is not None:
        errors = [e for e in errors if getattr(e, "step_id", None) in only]
    return errors


def _error(spec: StepSpec, message: str, *names: str) -> DomainError:
    base = spec.field_paths.get(names[0], spec.path) if names else spec.path
    error = InvalidInput(message, [*base, *names])
    error.step_id = spec.id  # type: ignore[attr-defined]  # read back by getattr above, for this module only
    return error


def _validate_list(specs: list[StepSpec], may_lack_email: bool, errors: list[DomainError]) -> bool:
    """Validate one list; returns whether some path leaves it without an EMAIL sent so far.

    `may_lack_email`: some path reaches the list's start without an EMAIL sent: an EMAIL there is the
    first of its thread on that path, so it needs a subject.
    """
    for i, spec in enumerate(specs):
        if spec.type == StepType.END and i < len(specs) - 1:
            errors.append(_error(spec, "END must be the last step of its list: steps after it would never run."))
        _validate_step(spec, may_lack_email, errors)
        if spec.type == StepType.EMAIL:
            may_lack_email = False
        elif spec.type == StepType.END:
            may_lack_email = False  # nothing continues after END
        elif spec.type in BRANCHES:
            outcomes = [_validate_list(children, may_lack_email, errors) for _, children in spec.branches]
            may_lack_email = any(outcomes)
    return may_lack_email


def _validate_step(spec: StepSpec, first_email_possible: bool, errors: list[DomainError]) -> None:
    t = spec.type
    if t == StepType.CONDITION and spec.condition is None:
        errors.append(_error(spec, "A CONDITION step needs a condition.", "condition"))
    low, high = validation.WAIT_FOR_ACCEPTANCE_DAYS
    days = spec.wait_for_acceptance_days
    if t == StepType.LINKEDIN_CONNECTION and (days is None or not low <= days <= high):
        errors.append(
            _error(
                spec,
                f"waitForAcceptanceDays must be between {low} and {high} on a LINKEDIN_CONNECTION step.",
                "waitForAcceptanceDays",
            )
        )
    if t == StepType.TASK:
        if spec.task_type is None:
            errors.append(_error(spec, "A TASK step needs a taskType.", "taskType"))
        if not (spec.title or "").strip():
            errors.append(_error(spec, "A TASK step needs a title.", "title"))
    if t == StepType.EMAIL and first_email_possible and not (spec.subject or "").strip():
        errors.append(
            _error(spec, "The first EMAIL of a path needs a subject (later ones reply in its thread).", "subject")
        )
    for name in ("subject", "content"):
        text = getattr(spec, name)
        limit = TEXT_LIMITS.get((name, t), DEFAULT_TEXT_LIMITS[name])
        if text is not None and len(text) > limit:
            what = "An invitation note" if t == StepType.LINKEDIN_CONNECTION else f"The {t.value} step's {name}"
            errors.append(_error(spec, f"{what} is at most {limit} characters (got {len(text)}).", name))
        elif text is not None and validation.bad_characters(text, multiline=name == "content"):
            # A subject is a header line: a line break in it would be header injection.
            allowed = "" if name == "subject" else " (line breaks and tabs are allowed)"
            errors.append(_error(spec, f"The {name} may not contain control characters such as NUL{allowed}.", name))
    if spec.title is not None and len(spec.title) > validation.TASK_TITLE:
        errors.append(
            _error(
                spec, f"A task title is at most {validation.TASK_TITLE} characters (got {len(spec.title)}).", "title"
            )
        )
    elif spec.title is not None and validation.bad_characters(spec.title):
        errors.append(_error(spec, "The title may not contain control characters such as NUL.", "title"))
    ai_names: set[str] = set()
    if len(spec.ai_variables) > MAX_AI_VARIABLES:
        errors.append(_error(spec, f"A step has at most {MAX_AI_VARIABLES} AI variables.", "aiVariables"))
    for j, variable in enumerate(spec.ai_variables):
        name = variable.get("name") or ""
        if not AI_NAME.fullmatch(name):
            errors.append(
                _error(
                    spec,
                    f"AI variable name {name[:64]!r}: letters, digits and underscores, not starting with a digit.",
                    "aiVariables",
                    str(j),
                    "name",
                )
            )
        elif name in ai_names:
            errors.append(_error(spec, f"AI variable {name!r} is defined twice.", "aiVariables", str(j), "name"))
        else:
            ai_names.add(name)
        prompt = variable.get("prompt") or ""
        if not prompt.strip():
            errors.append(_error(spec, "An AI variable needs a prompt.", "aiVariables", str(j), "prompt"))
        elif len(prompt) > validation.AI_PROMPT:
            errors.append(
                _error(
                    spec,
                    f"A prompt is at most {validation.AI_PROMPT} characters (got {len(prompt)}).",
                    "aiVariables",
                    str(j),
                    "prompt",
                )
            )
        elif validation.bad_characters(prompt, multiline=True):
            errors.append(_error(spec, "A prompt may not contain control characters.", "aiVariables", str(j), "prompt"))
    for name in ("subject", "content"):
        unknown = unknown_placeholders(getattr(spec, name), ai_names)
        if unknown:
            listed = ", ".join("{{" + u[:64] + "}}" for u in unknown[:10]) + (" ..." if len(unknown) > 10 else "")
            errors.append(_error(spec, f"Unknown placeholder(s) {listed}.", name))


# ------------------------------------------------------------------ rows


async def write_steps(campaign_id: int, specs: list[StepSpec]) -> list[SequenceStep]:
    """Insert the tree as rows, depth-first (a parent before its children, so it has an id to point to)."""
    rows: list[SequenceStep] = []

    async def walk(items: list[StepSpec], parent_id: int | None, branch: Branch) -> None:
        for spec in items:
            row = await SequenceStep.create(
                campaign_id=campaign_id,
                position=len(rows) + 1,
                type=spec.type,
                parent_id=parent_id,
                branch=branch,
                delay_seconds=spec.delay_seconds,
                subject=spec.subject,
                content=spec.content,
                condition=spec.condition,
                wait_for_acceptance_days=spec.wait_for_acceptance_days,
                task_type=spec.task_type,
                title=spec.title,
                ai_variables=spec.ai_variables,
            )
            rows.append(row)
            for child_branch, children in spec.branches:
                await walk(children, row.id, child_branch)

    await walk(specs, None, Branch.MAIN)
    return rows


async def replace_steps(campaign_id: int, specs: list[StepSpec]) -> list[SequenceStep]:
    """DRAFT only (the caller holds the campaign row): no lead has reached a step, so none points at one."""
    await SequenceStep.filter(campaign_id=campaign_id).delete()
    return await write_steps(campaign_id, specs)


def tree_from_rows(rows: list[SequenceStep]) -> list[StepSpec]:
    """Stored rows (any order) -> the tree, each spec carrying its row id."""
    children: dict[tuple[int | None, Branch], list[SequenceStep]] = {}
    for row in sorted(rows, key=lambda r: r.position):
        children.setdefault((row.parent_id, Branch(row.branch)), []).append(row)

    def build(items: list[SequenceStep]) -> list[StepSpec]:
        return [
            StepSpec(
                type=StepType(row.type),
                delay_seconds=row.delay_seconds,
                subject=row.subject,
                content=row.content,
                condition=row.condition,
                wait_for_acceptance_days=row.wait_for_acceptance_days,
                task_type=row.task_type,
                title=row.title,
                ai_variables=list(row.ai_variables or []),
                branches=[
                    (b, build(children.get((row.id, b), []))) for b, _, _ in BRANCHES.get(StepType(row.type), ())
                ],
                path=["sequence", str(row.position)],
                id=row.id,
            )
            for row in items
        ]

    return build(children.get((None, Branch.MAIN), []))


async def copy_steps(source_campaign_id: int, target_campaign_id: int) -> dict[int, int]:
    """Copy a sequence to another campaign with new ids; returns {old id: new id}."""
    mapping: dict[int, int] = {}
    for row in await SequenceStep.filter(campaign_id=source_campaign_id).order_by("position"):
        # Depth-first order: a parent is always copied before its children.
        copy = await SequenceStep.create(
            campaign_id=target_campaign_id,
            position=row.position,
            type=row.type,
            parent_id=mapping.get(row.parent_id) if row.parent_id else None,
            branch=row.branch,
            delay_seconds=row.delay_seconds,
            subject=row.subject,
            content=row.content,
            condition=row.condition,
            wait_for_acceptance_days=row.wait_for_acceptance_days,
            task_type=row.task_type,
            title=row.title,
            ai_variables=list(row.ai_variables or []),
        )
        mapping[row.id] = copy.id
    return mapping


def stamp(moment: datetime | None) -> str | None:
    """A datetime as kept inside JSON (paused_state): UTC, in the same text form SQLite stores datetimes."""
    return moment.astimezone(UTC).isoformat(" ") if moment is not None else None


def unstamp(text: str | None) -> datetime | None:
    if not text:
        return None
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
