"""The serialise_dynamodb patch's Query shortcut hands moto exactly the items a page can return."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from moto.dynamodb.models.dynamo_type import DynamoType

from localcloud.moto.patches import _page_candidates

KEYS = st.lists(st.text("0123456789#ab", min_size=1, max_size=6), unique=True, max_size=40)


def _partition(keys: list[str]) -> dict[DynamoType, str]:
    return {DynamoType({"S": key}): f"item-{key}" for key in keys}


@settings(max_examples=300, derandomize=True)
@given(
    keys=KEYS,
    bounds=st.none()
    | st.tuples(st.text("0123456789#ab", max_size=6), st.text("0123456789#ab", max_size=6)),
    start=st.none() | st.text("0123456789#ab", min_size=1, max_size=6),
    forward=st.booleans(),
    limit=st.none() | st.integers(min_value=1, max_value=10),
)
def test_candidates_are_the_next_page_in_range_past_the_start_key(
    keys: list[str],
    bounds: tuple[str, str] | None,
    start: str | None,
    forward: bool,
    limit: int | None,
) -> None:
    partition = _partition(keys)
    comparison = "BETWEEN" if bounds else None
    objs = [DynamoType({"S": b}) for b in bounds] if bounds else []
    start_key = {"symbol": {"S": "X"}, "sk": {"S": start}} if start is not None else None
    got = _page_candidates(partition, "sk", (comparison, objs, limit, start_key, forward))
    # What DynamoDB's page would be, with one more item (moto needs it to set LastEvaluatedKey).
    wanted = sorted(keys, reverse=not forward)
    if bounds:
        wanted = [k for k in wanted if bounds[0] <= k <= bounds[1]]
    if start is not None:
        wanted = [k for k in wanted if (k > start if forward else k < start)]
    if limit:
        wanted = wanted[: limit + 1]
    assert sorted(got) == sorted(f"item-{k}" for k in wanted)


def test_other_conditions_and_key_types_get_the_whole_partition() -> None:
    partition: dict[DynamoType, Any] = _partition(["a", "b", "c"])
    begins = ("BEGINS_WITH", [DynamoType({"S": "a"})], 1, None, True)
    assert sorted(_page_candidates(partition, "sk", begins)) == ["item-a", "item-b", "item-c"]
    numbers = {DynamoType({"N": str(n)}): n for n in range(3)}
    assert sorted(_page_candidates(numbers, "sk", (None, [], 1, None, True))) == [0, 1, 2]
