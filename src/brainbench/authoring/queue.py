"""The review queue: every proposed test case waits for a human to accept, edit or reject it, and
keeps its provenance (who or what wrote it: a person, or a model id with its prompt) and every review
decision (who, when, from, to, note); accepted items become a versioned test set. A graded item (a number of the
abstract replaced by a slot, with a grid of values: ``brainbench.authoring.graded``) is reviewed the same way."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from brainbench.authoring.edits import check_alteration, combine
from brainbench.authoring.graded import check_graded, graded_combined
from brainbench.data.cases import parse_combined
from brainbench.db import open_database, utc_now
from brainbench.errors import InputError

STATUSES = ("proposed", "accepted", "rejected")
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


class UnknownItem(InputError):
    """An item id the queue does not hold."""


class ReviewConflict(InputError):
    """A decision made on a stale view of the item, or one that overturns a person's decision without a note."""


class ReviewQueue:
    def __init__(self, location: str | Path) -> None:
        self.engine, self.display_url = open_database(location, metadata, InputError, "review queue")
        with self.engine.begin() as connection:  # a queue from before graded items
            if "grid" not in {column["name"] for column in sa.inspect(connection).get_columns("items")}:
                connection.execute(sa.text("ALTER TABLE items ADD COLUMN grid TEXT"))

    def add(self, candidate: dict[str, Any], altered: str, provenance: dict[str, Any], reasons: list[str]) -> int:
        """Queue a proposal: ``proposed`` if it passed the checks, else ``rejected`` with the reasons."""
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
        }
        with self.engine.begin() as connection:
            return connection.execute(sa.insert(items_table).values(**row)).inserted_primary_key[0]

    def add_graded(
        self, candidate: dict[str, Any], number: str, values: list[str], unit: str, provenance: dict[str, Any]
    ) -> int:
        """Queue a graded case (``check_graded``): ``proposed`` if it passed the checks, else ``rejected`` with the
        reasons."""
        row, reasons = check_graded(candidate["text"], number, values, unit)
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
            row["history"] = decisions.get(row["id"], [])
        return rows

    def _read_one(self, connection: sa.Connection, item_id: int, lock: bool = False) -> dict[str, Any]:
        found = self._read(connection, items_table.c.id == item_id, lock)
        if not found:
            raise UnknownItem(self.display_url, None, f"no item {item_id} in the review queue")
        return found[0]

    def review(
        self,
        item_id: int,
        status: str,
        *,
        reviewer: str,
        altered: str | None = None,
        note: str | None = None,
        expected: str | None = None,
    ) -> dict[str, Any]:
        """Accept (optionally with an edited alteration, which must combine and pass the checks) or reject an
        item, and record the decision. ``expected``: the status the reviewer saw (a decision made on a stale
        page is refused). Overturning a person's earlier decision needs a ``note`` saying why."""
        if status not in ("accepted", "rejected"):
            raise InputError("status", None, f"{status!r}: accept or reject")
        note = (note or "").strip() or None
        with self.engine.begin() as connection:
            item = self._read_one(connection, item_id, lock=True)
            if expected is not None and item["status"] != expected:
                raise ReviewConflict(
                    f"item {item_id}",
                    None,
                    f"is {item['status']} now, not {expected}: someone decided it meanwhile; reload the page",
                )
            if item["history"] and note is None:
                last = item["history"][-1]
                raise ReviewConflict(
                    f"item {item_id}",
                    None,
                    f"{last['reviewer']} decided it ({last['to_status']}) at {last['decided_at']}: "
                    "changing a decision needs a note saying why",
                )
            values: dict[str, Any] = {"status": status, "note": note, "reviewed_at": utc_now()}
            edited = False
            if status == "accepted" and item["grid"] is not None:
                if altered is not None:
                    raise InputError(
                        f"item {item_id}",
                        None,
                        "a graded item is not edited as a text: propose it again with other values",
                    )
                grid = item["grid"]
                _, reasons = check_graded(item["original"], grid["number"], grid["values"], grid["unit"])
                if reasons:
                    raise InputError(f"item {item_id}", None, "cannot accept: " + "; ".join(reasons))
                values["reasons"] = "[]"
            elif status == "accepted":
                text = altered if altered is not None else item["altered"]
                reasons = check_alteration(item["original"], text)
                if reasons:
                    raise InputError(f"item {item_id}", None, "cannot accept: " + "; ".join(reasons))
                values |= {"altered": text, "combined": combine(item["original"], text), "reasons": "[]"}
                edited = altered is not None and altered != item["altered"]
                if edited:
                    values["provenance"] = json.dumps({**item["provenance"], "edited_by": "human"})
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
        "note": item["note"],
        "decisions": [
            {key: decision[key] for key in ("reviewer", "decided_at", "from_status", "to_status", "edited", "note")}
            for decision in item["history"]
        ],
    }


def build_dataset(queue: ReviewQueue, name: str, version: str, out_dir: Path) -> Path:
    """Write the accepted items as ``out_dir/<name>-v<version>.csv`` (BrainBench's columns), the accepted graded items
    as
    ``<name>-v<version>.graded.jsonl``, and a manifest (checksums, counts, each item's provenance); ``brainbench run
    --dataset`` takes either file by path. Returns the CSV's path, or the graded file's when every item is graded."""
    accepted = queue.items("accepted")
    if not accepted:
        raise InputError(queue.display_url, None, "no accepted items to build a test set from")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    pairs, graded = (
        [item for item in accepted if item["grid"] is None],
        [item for item in accepted if item["grid"] is not None],
    )
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
        "authors": {
            kind: sum((item["provenance"].get("author") == "human") == (kind == "human") for item in accepted)
            for kind in ("human", "model")
        },
        "items": [_manifest_item(row, item) for row, item in enumerate(pairs)],
        "graded_items": [_manifest_item(row, item) for row, item in enumerate(graded)],
    }
    (out_dir / f"{name}-v{version}.manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return path if pairs else graded_path
