"""How the distributed engine cuts a queue's work into chunks: one head end each, in turn."""

from __future__ import annotations

from s1adopt.adapters.work.celery_engine import _interleaved


def test_chunks_hold_one_head_end_each_and_take_the_head_ends_in_turn() -> None:
    subjects = [(i, "a") for i in range(1, 6)] + [(i, "b") for i in range(6, 8)]
    subjects += [(i, "c") for i in range(8, 13)]
    chunks = list(_interleaved(subjects, 2))
    assert chunks == [
        ("a", [1, 2]), ("b", [6, 7]), ("c", [8, 9]),
        ("a", [3, 4]), ("c", [10, 11]),
        ("a", [5]), ("c", [12]),
    ]  # fmt: skip
    published = sorted(s for _, ids in chunks for s in ids)
    assert published == list(range(1, 13))  # every subject once


def test_no_work_makes_no_chunk() -> None:
    assert list(_interleaved([], 100)) == []
