"""Prompt templates: the paper's own file for each model, the abstract where ``<choice abstract>`` stands.

The paper never scored a bare abstract. Every model it scored has a template file
(``prompt_templates/<org--name>.txt``, the Hugging Face id with ``/`` written ``--``; fine-tunes and
adapters under their own names), and all of them open with "You are a neuroscientist with deep
knowledge in neuroscience." brainbench looks the file up by model id as the authors' code did,
fetches it like a dataset (mirror -> user cache -> download, checked by sha256) and uses its text
byte for byte. A model the paper did not score gets the paper's generic base-model template
(``gpt2``); ``none`` (the abstract alone) and your own file stay available.

The Llama-2 and Mistral files start with a literal ``<s>``, which their tokenizers read as the BOS
token on top of the BOS they add themselves: a double BOS. That is what the paper scored, so it is kept.
"""

from __future__ import annotations

import difflib
import hashlib
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from brainbench.data.catalog import PROMPT_TEMPLATES, prompt_template_file
from brainbench.data.fetch import resolve_dataset_file
from brainbench.errors import InputError

SLOT = "<choice abstract>"
NO_TEMPLATE = "none"
GENERIC = "gpt2"  # the paper's template for base models without chat markup


@dataclass(frozen=True, slots=True)
class Template:
    """A prompt template: its name (a catalogue name, ``none`` or ``file:<name>``), its exact text and why it was
    chosen."""

    name: str
    text: str
    chosen_by: str = "--template"  # model id, adapter, generic, --template or --template-file

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    def apply(self, abstract: str) -> str:
        return apply_template(self.text, abstract)


BARE = Template(NO_TEMPLATE, SLOT)


def apply_template(template: str, abstract: str) -> str:
    """The paper's prompt: substitute the abstract, then strip surrounding whitespace."""
    return template.replace(SLOT, abstract).strip()


def catalogue_names(model: str | Path | None) -> list[str]:
    """The catalogue names a model id, local folder, GGUF file or adapter may go by, most specific first:
    ``org/name``, ``org--name``, ``.../org/name``, ``.../org--name`` and a hub cache's ``models--org--name``."""
    parts = [part for part in str(model or "").replace("\\", "/").split("/") if part]
    if not parts:
        return []
    last = parts[-1].removesuffix(".gguf").removeprefix("models--")
    names = [f"{parts[-2]}--{last}"] if len(parts) > 1 else []
    return [*names, last]


def find_template(model: str | Path | None) -> str | None:
    """The paper's template name for a model (exact name first, then ignoring case), or None."""
    lowered = {name.lower(): name for name in PROMPT_TEMPLATES}
    for candidate in catalogue_names(model):
        if candidate in PROMPT_TEMPLATES:
            return candidate
        if candidate.lower() in lowered:
            return lowered[candidate.lower()]
    return None


def template_name(model: str | Path | None, adapter: str | Path | None = None) -> tuple[str, str]:
    """(template name, why) for a model run: the adapter's own file, else the model's, else the generic one."""
    for what, location in (("adapter", adapter), ("model id", model)):
        found = find_template(location)
        if found is not None:
            return found, what
    return GENERIC, "generic"


def load_template_file(path: Path) -> str:
    """Read a user template; it must contain the ``<choice abstract>`` slot exactly once."""
    try:
        text = Path(path).read_bytes().decode("utf-8")
    except OSError as error:
        raise InputError(path, None, f"cannot read the template: {error.strerror}") from error
    except UnicodeDecodeError as error:
        raise InputError(path, None, f"not UTF-8 text (byte {error.start})") from error
    count = text.count(SLOT)
    if count != 1:
        raise InputError(path, None, f"a template needs the slot {SLOT} exactly once; found {count}")
    return text


def check_template_name(name: str) -> str:
    """The catalogue spelling of a ``--template`` value (``org/name`` works too); an unknown name lists close ones."""
    if name == NO_TEMPLATE:
        return name
    found = find_template(name)
    if found is None:
        wanted = name.replace("/", "--").lower()
        containing = [known for known in PROMPT_TEMPLATES if wanted in known.lower()]
        near = containing[:3] or difflib.get_close_matches(wanted, [NO_TEMPLATE, *PROMPT_TEMPLATES], n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(near)}?" if near else ""
        raise InputError(
            "--template",
            None,
            f"unknown template {name!r}: use one of the paper's {len(PROMPT_TEMPLATES)} "
            f"files by name (e.g. {GENERIC}, mistralai--Mistral-7B-v0.1), none, or --template-file.{hint}",
        )
    return found


def resolve_template(
    name: str | None,
    file: Path | None,
    model: str | Path | None,
    *,
    adapter: str | Path | None = None,
    data_dir: Path | None = None,
    cache_dir: Path | None = None,
    offline: bool = False,
) -> Template:
    """The template of a run: ``file`` (any file with one ``<choice abstract>`` slot), else ``name``
    (one of the paper's files, or ``none``), else the paper's file for ``adapter`` or ``model``, else
    the generic one. The paper's files come from ``data_dir``/prompt_templates, the cache or a download."""
    if file is not None:
        return Template(f"file:{Path(file).name}", load_template_file(Path(file)), "--template-file")
    if name is not None:
        chosen, why = check_template_name(name), "--template"
    else:
        chosen, why = template_name(model, adapter)
    if chosen == NO_TEMPLATE:
        return Template(NO_TEMPLATE, SLOT, why)
    path = resolve_dataset_file(
        prompt_template_file(chosen),
        data_dir=data_dir,
        cache_dir=cache_dir or Path(platformdirs.user_cache_dir("brainbench")),
        offline=offline,
    )
    return Template(chosen, path.read_bytes().decode("utf-8"), why)
