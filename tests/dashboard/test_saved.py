"""The saved events' store (samrun.dashboard.saved): a name never leaves its folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from samrun.dashboard.saved import MAX_BYTES, SavedEventError, SavedEvents


@pytest.mark.parametrize(
    "name", ["..", "../x", "a/b", ".hidden", "a.json", "x" * 65, "", "a b", "a\\b", "é"]
)
def test_a_name_that_is_not_a_plain_word_is_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(SavedEventError, match="name"):
        SavedEvents(tmp_path).save(name, "{}")
    assert list(tmp_path.rglob("*")) == []


def test_events_are_json_size_limited_and_kept_under_dashboard(tmp_path: Path) -> None:
    store = SavedEvents(tmp_path)
    with pytest.raises(SavedEventError, match="not JSON"):
        store.save("bad", "{nope")
    with pytest.raises(SavedEventError, match="KB"):
        store.save("big", '"' + "x" * MAX_BYTES + '"')
    store.save("ok-1", '{"a": 1}')
    assert (tmp_path / "dashboard" / "events" / "ok-1.json").read_text() == '{"a": 1}'
    assert store.names() == ["ok-1"] and store.load("ok-1") == '{"a": 1}'
    assert store.delete("ok-1") and not store.delete("ok-1")
