"""Message templates: `{{firstName}}`, `{{lastName}}`, `{{company}}`, `{{title}}` and `{{ai.NAME}}`.

Unknown placeholders are refused when a step is saved (`unknown_placeholders`), so rendering at send time
never meets one. AI variables come from a pluggable generator (`AiGenerator`); the built-in one fills the
prompt's `{firstName}`-style fields from the contact, with no model.
"""

from __future__ import annotations

import re
from typing import Any, Protocol

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][\w.]*)\s*\}\}")
PROMPT_FIELD = re.compile(r"\{\s*(firstName|lastName|fullName|company|title|email)\s*\}")
CONTACT_FIELDS = {"firstName": "first_name", "lastName": "last_name", "company": "company", "title": "title"}
#: Filled when the email is built, not here (mail.outbound: the lead's signed one-click unsubscribe URL).
SEND_TIME = {"unsubscribeUrl"}
AI_NAME = re.compile(r"^[A-Za-z_]\w{0,63}$")


def placeholders(text: str | None) -> list[str]:
    return PLACEHOLDER.findall(text or "")


def unknown_placeholders(text: str | None, ai_names: set[str]) -> list[str]:
    """Placeholders in `text` that neither a contact field nor one of the step's AI variables fills."""
    unknown = []
    for name in placeholders(text):
        if name in CONTACT_FIELDS or name in SEND_TIME:
            continue
        if name.startswith("ai.") and name[3:] in ai_names:
            continue
        unknown.append(name)
    return unknown


class AiGenerator(Protocol):
    async def generate(self, prompt: str, contact: Any) -> str: ...


class FieldFillGenerator:
    """The built-in generator: fills `{firstName}`-style fields of the prompt from the contact. No model."""

    async def generate(self, prompt: str, contact: Any) -> str:
        def fill(match: re.Match[str]) -> str:
            key = match.group(1)
            if key == "fullName":
                return f"{contact.first_name} {contact.last_name}".strip()
            attr = {"email": "email", **CONTACT_FIELDS}[key]
            return str(getattr(contact, attr, None) or "")

        return PROMPT_FIELD.sub(fill, prompt)


_generator: AiGenerator = FieldFillGenerator()


def get_generator() -> AiGenerator:
    return _generator


def set_generator(generator: AiGenerator) -> None:
    """Plug in another generator (a language model, later)."""
    global _generator
    _generator = generator


async def render(text: str | None, contact: Any, ai_variables: list[dict[str, str]] | None = None) -> str:
    """Fill a template for one contact at send time."""
    if not text:
        return ""
    ai_values: dict[str, str] = {}
    for variable in ai_variables or []:
        if f"ai.{variable['name']}" in placeholders(text):
            ai_values[variable["name"]] = await get_generator().generate(variable["prompt"], contact)

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in SEND_TIME:
            return match.group(0)
        if name.startswith("ai."):
            return ai_values.get(name[3:], "")
        return str(getattr(contact, CONTACT_FIELDS.get(name, ""), None) or "")

    return PLACEHOLDER.sub(fill, text)
