"""The store files a metric's series by a 30-bit hash of their labels (``series_slots``): series
whose hashes meet are still each found, and taking one out loses none of the others."""

from __future__ import annotations

from vigil.metrics.heads import NAME, SeriesRef, series_key
from vigil.metrics.series_slots import Bucket, find, remove
from vigil.metrics.store import SeriesStore


def _colliding(count: int) -> list[dict[str, str]]:
    """``count`` label sets whose keys hash to one slot, found by trying (about 40,000 tries for
    two, as the birthday bound says; str hashes differ from run to run, so these do too)."""
    by_slot: dict[int, list[str]] = {}
    n = 0
    while True:
        value = f"host-{n}"
        n += 1
        taken = by_slot.setdefault(find({}, ("instance", value))[0], [])  # the key of these labels
        taken.append(value)
        if len(taken) == count:
            return [{"instance": value} for value in taken]


def test_series_whose_hashes_meet_each_take_a_slot_of_their_own() -> None:
    a, b, c = _colliding(3)
    bucket: Bucket = {}
    refs = [SeriesRef(labels) for labels in (a, b, c)]
    for ref, labels in zip(refs, (a, b, c), strict=True):
        slot, found = find(bucket, series_key(labels))
        assert found is None
        bucket[slot] = ref
    assert len(bucket) == 3
    home = find({}, series_key(a))[0]
    assert sorted(bucket) == [home, home + 1, home + 2]
    for ref, labels in zip(refs, (a, b, c), strict=True):
        assert find(bucket, series_key(labels))[1] is ref
    # Taking out the first moves the others back; each is found, and each only once.
    assert remove(bucket, refs[0]) and not remove(bucket, refs[0])
    assert sorted(bucket) == [home, home + 1]
    assert find(bucket, series_key(b))[1] is refs[1] and find(bucket, series_key(c))[1] is refs[2]
    assert find(bucket, series_key(a))[1] is None


def test_the_store_keeps_one_series_per_label_set_when_hashes_meet_and_one_goes() -> None:
    first, second = _colliding(2)
    store = SeriesStore(retention=100.0)
    old = store.append({NAME: "up", **first}, 10.0, 1.0)
    new = store.append({NAME: "up", **second}, 200.0, 1.0)
    assert old is not None and new is not None and old is not new
    assert store.append({NAME: "up", **first}, 20.0, 0.0) is old
    assert store.prune(250.0) == 2  # the first series' samples are too old: it goes
    assert not old.live
    # The second, filed past the first's slot, is still the one its labels find.
    assert store.append({NAME: "up", **second}, 210.0, 0.0) is new
    assert store.stats().series == 1
    assert [dict(s.labels) for s in store.select([], 0.0, 300.0)] == [{NAME: "up", **second}]
