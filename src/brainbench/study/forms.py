"""What participants submit, validated: the profile and the answer to a trial (pydantic models of the
HTML forms), and a message per field that says what to fix."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from brainbench.web import MAX_FORM_ID

POSITIONS = (
    "PhD student",
    "Postdoc",
    "Faculty/Academic staff",
    "Research scientist",
    "Undergraduate student",
    "Master's student",
    "Clinician",
    "__other",
)
SEXES = ("Female", "Male", "Non-binary", "Prefer not to say", "Other")
Record = TypeVar("Record", bound=BaseModel)


class Profile(BaseModel):
    """The paper's participant profile."""

    model_config = ConfigDict(str_strip_whitespace=True, frozen=True, extra="ignore")
    age: int = Field(ge=18, le=100)
    country: str = Field(min_length=1, max_length=100)
    position: Literal[POSITIONS]  # type: ignore[valid-type]
    experience: int = Field(ge=0, le=70)
    sex: Literal[SEXES]  # type: ignore[valid-type]

    @field_validator("country")
    @classmethod
    def _printable(cls, value: str) -> str:
        if any(unicodedata.category(character) in ("Cc", "Cf", "Co", "Cn", "Cs") for character in value):
            raise ValueError("control or invisible characters")
        return value


class Answer(BaseModel):
    """One trial's answer. The flags are booleans (0/1, true/false, yes/no): anything else is refused. Numbers
    are bounded (a database integer holds 64 bits: a larger one must be refused here, not crash there)."""

    model_config = ConfigDict(frozen=True, extra="ignore")
    position: int = Field(ge=0, le=MAX_FORM_ID)
    item_id: int = Field(ge=-MAX_FORM_ID, le=MAX_FORM_ID)
    choice: Literal["A", "B"]
    confidence: int = Field(ge=0, le=100)
    expertise: int = Field(ge=0, le=100)
    confidence_touched: bool = False
    expertise_touched: bool = False
    recognised: bool = False
    blurs: int = Field(default=0, ge=0, le=10_000)  # times the window lost focus
    layout: Literal["side-by-side", "differences"] | None = None  # how the two versions were shown

    @field_validator("layout", mode="before")
    @classmethod
    def _unknown_layout(cls, value: object) -> object:
        return None if value == "" else value  # the page's script did not run: layout unknown


PROFILE_HINTS = {
    "age": "Age: a whole number from 18 to 100.",
    "country": "Country: the country you work in (at most 100 characters).",
    "position": "Current position: choose one from the list.",
    "experience": "Years of research experience: a whole number from 0 to 70.",
    "sex": "Gender identity: choose one from the list.",
}
ANSWER_HINTS = {
    "choice": "Choose abstract A or abstract B.",
    "confidence": "Confidence: a whole number from 0 to 100.",
    "expertise": "Expertise: a whole number from 0 to 100.",
    "confidence_touched": "The form's confidence flag must be 0 or 1: reload the page.",
    "expertise_touched": "The form's expertise flag must be 0 or 1: reload the page.",
    "recognised": "'I recognise this study' is a tick box: reload the page.",
    "blurs": "The form's window count must be a whole number: reload the page.",
    "position": "The form's trial number is not one of yours: reload the page.",
    "item_id": "The form's item number is not one of yours: reload the page.",
    "layout": "The form's layout must be side-by-side or differences: reload the page.",
}


def read_form(
    model: type[Record], form: Mapping[str, str], hints: Mapping[str, str]
) -> tuple[Record | None, dict[str, str]]:
    """``(record, {})`` if ``form`` is valid, else ``(None, {field: what to fix})``."""
    try:
        return model.model_validate(dict(form)), {}
    except ValidationError as error:
        problems: dict[str, str] = {}
        for detail in error.errors():
            field = str(detail["loc"][0]) if detail["loc"] else "form"
            problems.setdefault(field, hints.get(field, f"{field}: {detail['msg']}."))
        return None, problems
