"""The review queue: every proposed test case waits for a human to accept, edit or reject it, and
keeps its provenance (who or what wrote it: a person, or a model id with its prompt), the record of its
checks (which reference model, the perplexity gap, for which text), and every review decision (who, when,
from, to, note); accepted items become a versioned test set. A graded item (a number of the abstract
replaced by a slot, with a grid of values: ``brainbench.authoring.graded``) is reviewed the same way.

Reviewers have their own tokens (``add_reviewer``; only a hash is stored), so every decision is made by
a known person. By default an item is accepted only by someone who did not write or edit it (the
two-person rule). ``build_dataset`` takes an accepted item only when every check passes again and its
alteration passed the perplexity-gap check under a recorded reference model; it lists what it refused
and why."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import secrets
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from brainbench.authoring.edits import (
    ReferenceModel,
    check_alteration,
    combine,
    gap_problem,
    hidden_characters,
    normalise_text,
    text_problems,
)
from brainbench.authoring.graded import check_graded, graded_combined
from brainbench.data.cases import parse_combined
from brainbench.db import insert_ignoring_existing, open_database, utc_now
from brainbench.errors import InputError
from brainbench.web import FORMULA_STARTS

STATUSES = ("proposed", "accepted", "rejected")
_FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
metadata = sa.MetaData()
items_table = sa.Table(
    "items",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("doi", sa.Text),
    sa.Column("journal", sa.Text),
    sa.Column("subfield", sa.Text),
    sa.Column("original", sa.Text, nullable=False),
    sa.Column("combined", sa.Text),  # [[original, altered]]; None when the proposal could not be combined
    sa.Column("altered", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("reasons", sa.Text, nullable=False),  # JSON list: why the checks rejected it
    sa.Column("provenance", sa.Text, nullable=False),  # JSON: {"author": "human"} or the model, prompt and settings
    sa.Column("note", sa.Text),  # the last reviewer's
    sa.Column("created_at", sa.String(32), nullable=False),
    sa.Column("reviewed_at", sa.String(32)),
    sa.Column(
        "grid", sa.Text
    ),  # JSON, graded items only: the number, its values, numeric, answer, unit; altered holds the slot
    sa.Column("checks", sa.Text),  # JSON: the last check with a reference model (see check_record); None: unchecked
)
decisions_table = sa.Table(
    "decisions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("item_id", sa.Integer, sa.ForeignKey("items.id"), nullable=False, index=True),
    sa.Column("reviewer", sa.Text, nullable=False),
    sa.Column("decided_at", sa.String(32), nullable=False),
    sa.Column("from_status", sa.String(16), nullable=False),
    sa.Column("to_status", sa.String(16), nullable=False),
    sa.Column("edited", sa.Boolean, nullable=False),  # the alteration was edited with this decision
    sa.Column("note", sa.Text),
)
reviewers_table = sa.Table(
    "reviewers",
    metadata,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("token_sha256", sa.String(64), nullable=False, unique=True),  # the token itself is never stored
    sa.Column("created_at", sa.String(32), nullable=False),
    sa.Column("signed_out_at", sa.Float),  # sessions signed in before this (or before the token changed) are over
)
settings_table = sa.Table(
    "queue_settings",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)


class UnknownItem(InputError):
    """An item id the queue does not hold."""


class ReviewConflict(InputError):
    """A decision made on a stale view of the item, or one that overturns a person's decision without a note."""


class SelfAcceptance(InputError):
    """An item accepted by someone who wrote or edited it, under the two-person rule."""


def token_sha256(token: str | bytes) -> str:
    data = token if isinstance(token, bytes) else token.encode("utf-8", "surrogateescape")
    return hashlib.sha256(data).hexdigest()


def normalise_name(name: str, what: str) -> tuple[str, list[str]]:
    """``(name, problems)``: a person's or a subfield's name in NFC with single spaces; control and format
    characters, markup and a spreadsheet formula's first character are problems."""
    hidden = hidden_characters(name)
    if hidden:
        shown = ", ".join(f"U+{ord(ch):04X} {unicodedata.name(ch, 'UNNAMED')}" for ch in hidden)
        return "", [f"a {what} cannot hold control or invisible characters ({shown})"]
    cleaned = normalise_text(name)
    if not cleaned:
        return "", [f"the {what} is empty"]
    if cleaned.startswith(FORMULA_STARTS):  # it becomes a cell of the test set's CSV, which is read back verbatim
        return "", [f"a {what} cannot start with = + - or @ (a spreadsheet would run it as a formula)"]
    if "<" in cleaned or ">" in cleaned:
        return "", [f"a {what} cannot hold < or > (write plain text)"]
    return cleaned, []


def match_known(name: str, known: Sequence[str]) -> str:
    """``name`` as spelled in ``known`` when it matches one of them ignoring case, else ``name``."""
    return next((spelled for spelled in known if spelled.casefold() == name.casefold()), name)


def item_authors(item: dict[str, Any]) -> set[str]:
    """The people who wrote or edited an item (a model's proposal has none until a person edits it)."""
    provenance = item["provenance"]
    authors = {str(name) for name in provenance.get("editors", [])}
    if provenance.get("author") == "human" and provenance.get("by"):
        authors.add(str(provenance["by"]))
    return authors


def needs_note(item: dict[str, Any]) -> bool:
    """Whether a new decision on the item overturns a person's: it was accepted or rejected by someone (an edit,
    which leaves it proposed, is no decision)."""
    return item["status"] != "proposed" and any(decision["to_status"] != "proposed" for decision in item["history"])


def check_record(original: str, altered: str, reference: ReferenceModel) -> dict[str, Any]:
    """Every check of an alteration, the perplexity gap under ``reference`` included (computed when the
    other checks pass), as stored with the item: ``reference_model``, ``log_ppl_gap``, ``altered_sha256``
    (the text checked: an edit needs a new check), ``passed``, ``reasons``, ``checked_at``."""
    reasons = check_alteration(original, altered)
    gap = None
    if not reasons:
        gap = reference.log_ppl(altered) - reference.log_ppl(original)
        problem = gap_problem(gap)
        if problem:
            reasons.append(problem)
    return {
        "reference_model": reference.name,
        "log_ppl_gap": None if gap is None else round(gap, 4),
        "altered_sha256": hashlib.sha256(altered.encode("utf-8")).hexdigest(),
        "passed": not reasons,
        "reasons": reasons,
        "checked_at": utc_now(),
    }


def current_check(item: dict[str, Any]) -> dict[str, Any] | None:
    """The item's check record if it was made for the item's present alteration, else None."""
    record = item.get("checks")
    if not record or record.get("altered_sha256") != hashlib.sha256(item["altered"].encode("utf-8")).hexdigest():
        return None
    return record


class ReviewQueue:
    def __init__(self, location: str | Path) -> None:
        self.engine, self.display_url = open_database(
            location, metadata, lambda message: InputError("--queue", None, message), "review queue"
        )
        with self.engine.begin() as connection:  # a queue of an older version: add the columns it lacks
            present = {column["name"] for column in sa.inspect(connection).get_columns("items")}
            for name in ("grid", "checks"):
                if name not in present:
                    connection.execute(sa.text(f"ALTER TABLE items ADD COLUMN {name} TEXT"))
            # another server opening the same new queue at once may have written it: the first one's is kept
            connection.execute(
                insert_ignoring_existing(self.engine, settings_table).values(
                    key="secret_key", value=secrets.token_hex(32)
                )
            )
            self.secret_key = bytes.fromhex(
                connection.execute(
                    sa.select(settings_table.c.value).where(settings_table.c.key == "secret_key")
                ).scalar_one()
            )  # signs the authoring page's sessions and CSRF tokens; kept across restarts

    # reviewers

    def add_reviewer(self, name: str) -> str:
        """A new reviewer (or a new token for one: their old token and sessions end); returns the token, which
        is shown once and stored only as a hash."""
        cleaned, problems = normalise_name(name, "reviewer's name")
        if problems:
            raise InputError("name", None, problems[0])
        token = secrets.token_urlsafe(24)
        with self.engine.begin() as connection:
            known = {row[0].casefold(): row[0] for row in connection.execute(sa.select(reviewers_table.c.name))}
            if cleaned.casefold() in known:  # a new token: the old one, and every session signed in with it, end
                connection.execute(
                    sa.update(reviewers_table)
                    .where(reviewers_table.c.name == known[cleaned.casefold()])
                    .values(token_sha256=token_sha256(token), signed_out_at=time.time())
                )
            else:
                connection.execute(
                    sa.insert(reviewers_table).values(
                        name=cleaned, created_at=utc_now(), token_sha256=token_sha256(token)
                    )
                )
        return token

    def remove_reviewer(self, name: str) -> None:
        with self.engine.begin() as connection:
            removed = connection.execute(sa.delete(reviewers_table).where(reviewers_table.c.name == name)).rowcount
        if not removed:
            raise InputError("name", None, f"no reviewer {name!r} (see brainbench author reviewers)")

    def reviewers(self) -> list[dict[str, Any]]:
        with self.engine.begin() as connection:
            return [
                dict(row)
                for row in connection.execute(
                    sa.select(reviewers_table.c.name, reviewers_table.c.created_at).order_by(reviewers_table.c.name)
                ).mappings()
            ]

    def reviewer_for(self, token: str | bytes) -> str | None:
        """Whose ``token`` this is (looked up by its SHA-256), or None."""
        with self.engine.begin() as connection:
            return connection.execute(
                sa.select(reviewers_table.c.name).where(reviewers_table.c.token_sha256 == token_sha256(token))
            ).scalar_one_or_none()

    def signed_out_at(self, name: str) -> float | None:
        """When ``name``'s sessions were last ended (signed out, token changed); +inf for one not a reviewer."""
        with self.engine.begin() as connection:
            row = connection.execute(
                sa.select(reviewers_table.c.signed_out_at).where(reviewers_table.c.name == name)
            ).first()
        return float("inf") if row is None else row[0]

    def sign_out(self, name: str, when: float) -> None:
        with self.engine.begin() as connection:
            connection.execute(
                sa.update(reviewers_table).where(reviewers_table.c.name == name).values(signed_out_at=when)
            )

    # items

    def add(
        self,
        candidate: dict[str, Any],
        altered: str,
        provenance: dict[str, Any],
        reasons: list[str],
        checks: dict[str, Any] | None = None,
    ) -> int:
        """Queue a proposal: ``proposed`` if it passed the checks, else ``rejected`` with the reasons; ``checks``:
        its :func:`check_record`, when it was checked with a reference model."""
        try:
            combined: str | None = combine(candidate["text"], altered)
        except ValueError:
            combined = None
        row = {
            "doi": candidate.get("doi"),
            "journal": candidate.get("journal"),
            "subfield": candidate.get("subfield") or "",
            "original": candidate["text"],
            "altered": altered,
            "combined": combined,
            "status": "rejected" if reasons else "proposed",
            "reasons": json.dumps(reasons),
            "provenance": json.dumps(provenance),
            "created_at": utc_now(),
            "checks": None if checks is None else json.dumps(checks),
        }
        with self.engine.begin() as connection:
            return connection.execute(sa.insert(items_table).values(**row)).inserted_primary_key[0]

    def add_graded(
        self, candidate: dict[str, Any], number: str, values: list[str], unit: str, provenance: dict[str, Any]
    ) -> int:
        """Queue a graded case (``check_graded``): ``proposed`` if it passed the checks, else ``rejected`` with the
        reasons."""
        row, reasons = check_graded(candidate["text"], number, values, unit)
        reasons += graded_text_problems(candidate["text"], number, values, unit)
        grid = {"number": number, "values": values, "unit": unit} | (
            {} if row is None else {key: row[key] for key in ("values", "numeric", "answer")}
        )
        item = {
            "doi": candidate.get("doi"),
            "journal": candidate.get("journal"),
            "subfield": candidate.get("subfield") or "",
            "original": candidate["text"],
            "altered": "" if row is None else row["text"],
            "combined": None if row is None else graded_combined(row),
            "status": "rejected" if reasons else "proposed",
            "reasons": json.dumps(reasons),
            "provenance": json.dumps(provenance),
            "created_at": utc_now(),
            "grid": json.dumps(grid),
        }
        with self.engine.begin() as connection:
            return connection.execute(sa.insert(items_table).values(**item)).inserted_primary_key[0]

    def items(self, status: str | None = None) -> list[dict[str, Any]]:
        """Queued items (all, or those with ``status``), each with its ``history`` of review decisions, oldest first."""
        with self.engine.begin() as connection:
            return self._read(connection, None if status is None else items_table.c.status == status)

    def item(self, item_id: int) -> dict[str, Any]:
        with self.engine.begin() as connection:
            return self._read_one(connection, item_id)

    def _read(self, connection: sa.Connection, where: Any = None, lock: bool = False) -> list[dict[str, Any]]:
        query, history = (
            sa.select(items_table).order_by(items_table.c.id),
            sa.select(decisions_table).order_by(decisions_table.c.id),
        )
        if where is not None:
            query = query.where(where)
        if lock:
            query = (
                query.with_for_update()
            )  # PostgreSQL: one decision at a time (SQLite's BEGIN IMMEDIATE already serialises)
        rows = [dict(row) for row in connection.execute(query).mappings()]
        if where is not None:
            history = history.where(decisions_table.c.item_id.in_([row["id"] for row in rows]))
        decisions: dict[int, list[dict[str, Any]]] = {}
        for decision in connection.execute(history).mappings():
            decisions.setdefault(decision["item_id"], []).append(dict(decision))
        for row in rows:
            row["reasons"], row["provenance"] = json.loads(row["reasons"]), json.loads(row["provenance"])
            row["grid"] = None if row["grid"] is None else json.loads(row["grid"])
            row["checks"] = None if row["checks"] is None else json.loads(row["checks"])
            row["history"] = decisions.get(row["id"], [])
        return rows

    def _read_one(self, connection: sa.Connection, item_id: int, lock: bool = False) -> dict[str, Any]:
        found = self._read(connection, items_table.c.id == item_id, lock)
        if not found:
            raise UnknownItem(self.display_url, None, f"no item {item_id} in the review queue")
        return found[0]

    def check(
        self,
        reference: ReferenceModel,
        statuses: Sequence[str] = ("proposed", "accepted"),
        on_progress: Callable[[int, int], None] | None = None,
    ) -> list[tuple[int, dict[str, Any]]]:
        """Check every item (of ``statuses``) whose alteration has no check under ``reference`` yet; record each
        check with the item (a failed one stays failed until the item is edited). Graded items have no
        perplexity gap to check. Returns ``(item id, record)`` of the items checked now."""
        todo = [
            item
            for item in self.items()
            if item["status"] in statuses
            and item["grid"] is None
            and ((current_check(item) or {}).get("reference_model") != reference.name)
        ]
        done = []
        for index, item in enumerate(todo):
            record = check_record(item["original"], item["altered"], reference)
            with self.engine.begin() as connection:
                connection.execute(
                    sa.update(items_table).where(items_table.c.id == item["id"]).values(checks=json.dumps(record))
                )
            done.append((item["id"], record))
            if on_progress is not None:
                on_progress(index + 1, len(todo))
        return done

    def review(
        self,
        item_id: int,
        status: str,
        *,
        reviewer: str,
        altered: str | None = None,
        note: str | None = None,
        expected: str | None = None,
        reference: ReferenceModel | None = None,
        two_person_rule: bool = True,
    ) -> dict[str, Any]:
        """Accept (optionally with an edited alteration, which must combine and pass the checks), reject, or
        only edit (``status="proposed"`` with ``altered``) an item, and record the decision. ``expected``: the
        status the reviewer saw (a decision made on a stale page is refused). Overturning a person's earlier
        decision needs a ``note`` saying why. ``reference``: check the accepted alteration under this model now
        (else ``check`` or ``dataset build`` does it later; an alteration that failed its check is not
        accepted). ``two_person_rule``: the writer or an editor of an item cannot accept it."""
        if status not in ("accepted", "rejected", "proposed"):
            raise InputError("status", None, f"{status!r}: accept, reject or edit")
        if status == "proposed" and altered is None:
            raise InputError("status", None, "an edit needs the edited alteration (--altered)")
        note = normalise_text(note or "") or None
        if note is not None and hidden_characters(note):
            raise InputError("note", None, "a note cannot hold control or invisible characters")
        with self.engine.begin() as connection:
            item = self._read_one(connection, item_id, lock=True)
            if expected is not None and item["status"] != expected:
                raise ReviewConflict(
                    f"item {item_id}",
                    None,
                    f"is {item['status']} now, not {expected}: someone decided it meanwhile; reload the page",
                )
            if needs_note(item) and note is None:
                last = [decision for decision in item["history"] if decision["to_status"] != "proposed"][-1]
                raise ReviewConflict(
                    f"item {item_id}",
                    None,
                    f"{last['reviewer']} decided it ({last['to_status']}) at {last['decided_at']}: "
                    "changing a decision needs a note saying why",
                )
            values: dict[str, Any] = {"status": status, "note": note, "reviewed_at": utc_now()}
            changes, edited = self._checked_changes(connection, item, status, altered, reviewer, reference)
            values |= changes
            if status == "accepted" and two_person_rule and reviewer in item_authors(item):
                raise SelfAcceptance(
                    f"item {item_id}",
                    None,
                    f"{reviewer} wrote or edited it: another reviewer accepts it (the two-person rule)",
                )
            connection.execute(sa.update(items_table).where(items_table.c.id == item_id).values(**values))
            connection.execute(
                sa.insert(decisions_table).values(
                    item_id=item_id,
                    reviewer=reviewer,
                    decided_at=values["reviewed_at"],
                    from_status=item["status"],
                    to_status=status,
                    edited=edited,
                    note=note,
                )
            )
            return self._read_one(connection, item_id)

    def _checked_changes(
        self,
        connection: sa.Connection,
        item: dict[str, Any],
        status: str,
        altered: str | None,
        reviewer: str,
        reference: ReferenceModel | None,
    ) -> tuple[dict[str, Any], bool]:
        """(the item's new values, whether its alteration was edited) for a decision that is not a rejection, every
        check passed (under ``reference`` too, for an acceptance); a failed check is an InputError."""
        values: dict[str, Any] = {}
        edited = False
        if status != "rejected" and item["grid"] is not None:
            if altered is not None:
                raise InputError(
                    f"item {item['id']}",
                    None,
                    "a graded item is not edited as a text: propose it again with other values",
                )
            grid = item["grid"]
            _, reasons = check_graded(item["original"], grid["number"], grid["values"], grid["unit"])
            reasons += graded_text_problems(item["original"], grid["number"], grid["values"], grid["unit"])
            if reasons:
                raise InputError(f"item {item['id']}", None, "cannot accept: " + "; ".join(reasons))
            values["reasons"] = "[]"
        elif status != "rejected":
            text = normalise_text(altered) if altered is not None else item["altered"]
            reasons = check_alteration(item["original"], text)
            if reasons:
                raise InputError(f"item {item['id']}", None, "cannot accept: " + "; ".join(reasons))
            values |= {"altered": text, "combined": combine(item["original"], text), "reasons": "[]"}
            edited = altered is not None and text != item["altered"]
            if edited:
                editors = sorted({*item["provenance"].get("editors", []), reviewer})
                item["provenance"] = {**item["provenance"], "edited_by": "human", "editors": editors}
                values["provenance"] = json.dumps(item["provenance"])
            record = current_check({**item, "altered": text})
            if status == "accepted" and reference is not None:
                record = check_record(item["original"], text, reference)
                values["checks"] = json.dumps(record)
            if status == "accepted" and record is not None and not record["passed"]:
                if "checks" in values:  # keep the failed check with the item, and refuse
                    connection.execute(
                        sa.update(items_table).where(items_table.c.id == item["id"]).values(checks=values["checks"])
                    )
                raise InputError(
                    f"item {item['id']}",
                    None,
                    f"cannot accept: under {record['reference_model']}: " + "; ".join(record["reasons"]),
                )
        return values, edited


def graded_text_problems(text: str, number: str, values: Sequence[str], unit: str) -> list[str]:
    """Invisible or look-alike characters in a graded case's number, values or unit (as in alterations)."""
    problems = []
    for what, given in (
        ("the number", number),
        *((f"the value {value!r}", value) for value in values),
        ("the unit", unit),
    ):
        found = text_problems(text, normalise_text(given))
        problems += [f"{what}: {problem}" for problem in found]
    return problems


DATASET_COLUMNS = ("doi", "journal_section", "original_abstract", "incorrect_abstract", "combined_abstract")


def graded_row(item: dict[str, Any]) -> dict[str, Any]:
    """An accepted graded item as a graded test case (``brainbench.data.grid``'s row)."""
    grid = item["grid"]
    return {
        "doi": item["doi"] or "",
        "subfield": item["subfield"],
        "text": item["altered"],
        "values": grid["values"],
        "numeric": grid["numeric"],
        "answer": grid["answer"],
        "unit": grid["unit"],
    }


def _manifest_item(row: int, item: dict[str, Any]) -> dict[str, Any]:
    """An item's row in its file, provenance and every review decision, for the manifest."""
    return {
        "row": row,
        "queue_id": item["id"],
        "doi": item["doi"],
        **({"number": item["grid"]["number"]} if item["grid"] else {}),
        "provenance": item["provenance"],
        "checks": item["checks"],
        "note": item["note"],
        "decisions": [
            {key: decision[key] for key in ("reviewer", "decided_at", "from_status", "to_status", "edited", "note")}
            for decision in item["history"]
        ],
    }


def refusals(item: dict[str, Any], two_person_rule: bool = True) -> list[str]:
    """Why an accepted item may not enter a test set (empty when it may): every check again (the texts, the
    subfield), a passed perplexity-gap check under a recorded reference model for its present alteration,
    and, under the two-person rule, an acceptance by someone who did not write or edit it."""
    reasons: list[str] = []
    _, subfield_problems = normalise_name(item["subfield"] or "", "subfield")
    reasons += [problem for problem in subfield_problems if "empty" not in problem]
    if item["grid"] is not None:
        grid = item["grid"]
        reasons += check_graded(item["original"], grid["number"], grid["values"], grid["unit"])[1]
        reasons += graded_text_problems(item["original"], grid["number"], grid["values"], grid["unit"])
    else:
        reasons += check_alteration(item["original"], item["altered"])
        record = current_check(item)
        if record is None:
            reasons.append(
                "not checked with a reference model (run brainbench author check, or dataset build with "
                "--reference-model)"
            )
        elif not record["passed"]:
            reasons += [f"under {record['reference_model']}: {reason}" for reason in record["reasons"]]
    accepted_by = [decision["reviewer"] for decision in item["history"] if decision["to_status"] == "accepted"]
    if two_person_rule and accepted_by and accepted_by[-1] in item_authors(item):
        reasons.append(f"accepted by {accepted_by[-1]}, who wrote or edited it (the two-person rule)")
    return list(dict.fromkeys(reasons))


def _subfield_spellings(items: Sequence[dict[str, Any]]) -> dict[str, str]:
    """Each subfield (NFC, single spaces, compared ignoring case) -> the spelling most items use (ties: the first)."""
    names = [normalise_text(item["subfield"] or "") for item in items]
    spellings: dict[str, Counter[str]] = {}
    for name in names:
        spellings.setdefault(name.casefold(), Counter())[name] += 1
    return {key: counts.most_common(1)[0][0] for key, counts in spellings.items()}


def build_dataset(queue: ReviewQueue, name: str, version: str, out_dir: Path, *, two_person_rule: bool = True) -> Path:
    """Write the accepted items as ``out_dir/<name>-v<version>.csv`` (BrainBench's columns), the accepted graded items
    as ``<name>-v<version>.graded.jsonl``, and a manifest (checksums, counts, each item's provenance, its checks
    and decisions, and the accepted items refused with why: :func:`refusals`); ``brainbench run --dataset`` takes
    either file by path. Returns the CSV's path, or the graded file's when every item is graded."""
    for what, value in (("--name", name), ("--version", version)):
        if not _FILE_NAME.fullmatch(value) or ".." in value:
            raise InputError(
                what,
                None,
                f"{value!r} is not a plain file name: use letters, digits, '.', '_' and '-' (no '..', no '/')",
            )
    accepted = queue.items("accepted")
    if not accepted:
        raise InputError(queue.display_url, None, "no accepted items to build a test set from")
    refused = [(item, refusals(item, two_person_rule)) for item in accepted]
    kept = [item for item, reasons in refused if not reasons]
    refused = [(item, reasons) for item, reasons in refused if reasons]
    if not kept:
        listed = "; ".join(f"#{item['id']}: {reasons[0]}" for item, reasons in refused[:20])
        raise InputError(queue.display_url, None, f"every accepted item was refused ({listed})")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    spelling = _subfield_spellings(kept)
    pairs, graded = (
        [item for item in kept if item["grid"] is None],
        [item for item in kept if item["grid"] is not None],
    )
    for item in kept:
        item["subfield"] = spelling[normalise_text(item["subfield"] or "").casefold()]
    path, graded_path = out_dir / f"{name}-v{version}.csv", out_dir / f"{name}-v{version}.graded.jsonl"
    for existing in (path, graded_path):
        if existing.exists():
            raise InputError(
                existing, None, "this version exists already: a released version never changes; choose a new --version"
            )
    if pairs:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(DATASET_COLUMNS)
        for item in pairs:
            parsed = parse_combined(item["combined"])
            writer.writerow([item["doi"] or "", item["subfield"], parsed.original, parsed.altered, item["combined"]])
        path.write_text(buffer.getvalue(), encoding="utf-8")
    if graded:
        graded_path.write_text(
            "".join(json.dumps(graded_row(item), ensure_ascii=False) + "\n" for item in graded), encoding="utf-8"
        )
    checksums = {
        f"{prefix}sha256": hashlib.sha256(file.read_bytes()).hexdigest()
        for prefix, file in (("", path), ("graded_", graded_path))
        if file.exists()
    }
    manifest = {
        "name": name,
        "version": version,
        **({"file": path.name} if pairs else {}),
        **({"graded_file": graded_path.name} if graded else {}),
        **checksums,
        "n_items": len(pairs),
        "n_graded": len(graded),
        "created_at": utc_now(),
        "columns": list(DATASET_COLUMNS),
        "two_person_rule": two_person_rule,
        "authors": {
            kind: sum((item["provenance"].get("author") == "human") == (kind == "human") for item in kept)
            for kind in ("human", "model")
        },
        "items": [_manifest_item(row, item) for row, item in enumerate(pairs)],
        "graded_items": [_manifest_item(row, item) for row, item in enumerate(graded)],
        "refused": [{"queue_id": item["id"], "doi": item["doi"], "reasons": reasons} for item, reasons in refused],
    }
    (out_dir / f"{name}-v{version}.manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return path if pairs else graded_path
