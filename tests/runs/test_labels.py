"""Names and tags of runs: validated, kept with the run, gone with it, absent from stores older than them."""

import sqlite3

import pytest

from dpviz.runs.store import SqliteRunStore, parse_tags
from dpviz.training.config import TrainConfig
from dpviz.training.fake import record_pair
from dpviz.validation import ValidationError


def test_label_a_run_and_read_it_back(tmp_path):
    store = SqliteRunStore(tmp_path)
    private, baseline = record_pair(store, TrainConfig(epochs=1))
    store.set_label(private, name=" first ", tags="a, b, a")
    store.set_label(private, tags=["b", "c,d"])
    assert store.labels() == {private: {"name": "first", "tags": ["b", "c", "d"]}}
    store.delete(private)
    assert store.labels() == {}


@pytest.mark.parametrize(
    ("name", "tags", "field"),
    [("x" * 81, None, "name"), (None, ",".join("abcdefghijk"), "tags"), (None, "y" * 31, "tags")],
)
def test_bad_labels_name_their_field(tmp_path, name, tags, field):
    store = SqliteRunStore(tmp_path)
    private, _ = record_pair(store, TrainConfig(epochs=1))
    with pytest.raises(ValidationError) as err:
        store.set_label(private, name=name, tags=tags)
    assert err.value.field == field and store.labels() == {}


def test_unknown_run_is_named(tmp_path):
    with pytest.raises(ValidationError) as err:
        SqliteRunStore(tmp_path).set_label("nope", name="x")
    assert err.value.field == "run_id"


def test_a_store_from_before_labels_reads_as_unlabelled_and_gains_them_on_write(tmp_path):
    store = SqliteRunStore(tmp_path)
    private, _ = record_pair(store, TrainConfig(epochs=1))
    with sqlite3.connect(store.path) as db:
        db.execute("DROP TABLE labels")
    old = SqliteRunStore(tmp_path)
    assert old.labels() == {}
    old.set_label(private, tags="kept")
    assert old.labels()[private]["tags"] == ["kept"]


def test_parse_tags_strips_and_dedupes():
    assert parse_tags(" a ,b,, a") == ["a", "b"] and parse_tags(None) == [] and parse_tags(["x", " y"]) == ["x", "y"]
