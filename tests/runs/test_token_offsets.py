"""Each token's character offsets, kept beside its log-probability (what the item explorer needs, no tokenizer)."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from brainbench.runs.store import ResultsStore, text_key
from brainbench.scoring.base import TokenScores


def test_offsets_are_stored_and_older_stores_read_without_them(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite"
    store = ResultsStore(path)
    key = store.register_scorer({"backend": "fake"}, {})
    with_offsets = TokenScores((-1.0, -2.0), 3, None, ((0, 4), (4, 9)))
    store.add_scores(key, [("one", with_offsets, None), ("two", TokenScores((-1.0,), 2), None)])
    stored = store.get_scores(key, [text_key("one"), text_key("two")])
    assert stored[text_key("one")].scores == with_offsets
    assert stored[text_key("two")].scores.token_offsets is None
    with store.engine.begin() as connection:  # a store from before token offsets
        connection.execute(sa.text("ALTER TABLE scores DROP COLUMN token_offsets"))
    old = ResultsStore(path, create=False)  # read as it is, nothing written
    assert all(s.scores.token_offsets is None for s in old.get_scores(key, [text_key("one")]).values())
    ResultsStore(path)  # opened for writing: the column is added
    assert "token_offsets" in {column["name"] for column in sa.inspect(old.engine).get_columns("scores")}
