"""Pair digests, shards and the compact KeySet, checked against literals and a Python set."""

from __future__ import annotations

import hashlib
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crawler.keyset import KeySet, digests_array, pair_digest, shard_of

PROJECT = "0a1b2c3d4e5f"
IMAGE = "7f9c1e2a-3b4d-4e5f-8a9b-0c1d2e3f4a5b"
# Computed outside Python with coreutils: printf '%s/%s' "$PROJECT" "$IMAGE" | b2sum -l 128
DIGEST_HEX = "27901c329adfc7bad84953b631bae6ad"

U64_MAX = 2**64 - 1
# Small words collide often (in home slots, within and across batches, in the forced low
# bit); full-range words exercise the whole 128 bits.
WORDS = st.one_of(st.integers(0, 15), st.integers(0, U64_MAX))
KEYS = st.tuples(WORDS, st.one_of(st.integers(0, 3), st.integers(0, U64_MAX)))


def as_keys(rows: list[tuple[int, int]]) -> np.ndarray:
    return np.array(rows, dtype=np.uint64).reshape(-1, 2)


def random_keys(seed: int, count: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 2**64, size=(count, 2), dtype=np.uint64)


def test_pair_digest_is_blake2b_128_of_the_joined_ids() -> None:
    digest = pair_digest(PROJECT, IMAGE)
    assert digest.hex() == DIGEST_HEX
    joined = f"{PROJECT}/{IMAGE}".encode()
    assert digest == hashlib.blake2b(joined, digest_size=16).digest()


def test_digests_array_holds_little_endian_words() -> None:
    words = digests_array([pair_digest(PROJECT, IMAGE)] * 2)
    assert words.dtype == np.uint64
    assert words.tolist() == [[0xBAC7DF9A321C9027, 0xADE6BA31B65349D8]] * 2
    assert digests_array([]).shape == (0, 2)
    with pytest.raises(ValueError, match="16 bytes"):
        digests_array([b"short"])


def test_shard_of_is_the_low_word_modulo_count() -> None:
    digest = pair_digest(PROJECT, IMAGE)
    assert shard_of(digest, 4) == 0xBAC7DF9A321C9027 % 4 == 3
    assert shard_of(digest, 1) == 0
    with pytest.raises(ValueError, match="shard count"):
        shard_of(digest, 0)


def test_shards_spread_evenly_and_match_the_array_formula() -> None:
    digests = [pair_digest(f"project-{i % 37}", f"image-{i}") for i in range(10_000)]
    shards = [shard_of(digest, 4) for digest in digests]
    assert (digests_array(digests)[:, 0] % 4).tolist() == shards
    counts = Counter(shards)
    assert sorted(counts) == [0, 1, 2, 3]
    assert all(2000 <= count <= 3000 for count in counts.values()), counts


@settings(deadline=None)
@given(st.lists(st.lists(KEYS, max_size=40), max_size=12))
def test_keyset_behaves_like_a_set(batches: list[list[tuple[int, int]]]) -> None:
    keys = KeySet(capacity=1)  # tiny, so the batches force several resizes
    model: set[tuple[int, int]] = set()
    for batch in batches:
        rows = [(lo | 1, hi) for lo, hi in batch]  # the low bit is not part of a key
        assert keys.contains(as_keys(batch)).tolist() == [row in model for row in rows]
        expected = []
        for row in rows:
            expected.append(row not in model)
            model.add(row)
        assert keys.add(as_keys(batch)).tolist() == expected
        assert len(keys) == len(model)
        assert len(keys) * 5 <= keys.capacity * 3
    assert keys.contains(as_keys(sorted(model))).all()


def test_repeats_in_a_batch_count_once_at_their_first_index() -> None:
    keys = KeySet()
    batch = as_keys([(2, 7), (5, 5), (3, 7), (5, 5), (2, 7), (0, 0)])
    assert keys.add(batch).tolist() == [True, True, False, False, False, True]
    assert keys.add(batch).tolist() == [False] * 6
    assert len(keys) == 3


def test_many_random_keys_fit_in_under_40_bytes_each() -> None:
    count = 200_000
    known, unknown = random_keys(1, count), random_keys(2, 20_000)
    keys = KeySet()
    for start in range(0, count, 20_000):
        assert keys.add(known[start : start + 20_000]).all()
    assert len(keys) == count
    assert keys.nbytes < 40 * count
    assert keys.contains(known).all()
    assert not keys.contains(unknown).any()
    assert not keys.add(known[::7]).any()
    assert len(keys) == count


def test_empty_batches() -> None:
    keys = KeySet()
    empty = np.empty((0, 2), dtype=np.uint64)
    for result in (keys.add(empty), keys.contains(empty), keys.add(digests_array([]))):
        assert result.dtype == np.bool_
        assert result.shape == (0,)
    keys.add(random_keys(3, 10))
    assert keys.contains(empty).shape == (0,)
    assert len(keys) == 10


@pytest.mark.parametrize(
    "bad",
    [np.zeros((4, 3), np.uint64), np.zeros(4, np.uint64), np.zeros((4, 2), np.int64)],
)
def test_keys_must_be_rows_of_two_uint64_words(bad: np.ndarray) -> None:
    with pytest.raises(ValueError, match=r"\(n, 2\) uint64"):
        KeySet().add(bad)
    with pytest.raises(ValueError, match=r"\(n, 2\) uint64"):
        KeySet().contains(bad)


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError, match="capacity"):
        KeySet(capacity=0)
