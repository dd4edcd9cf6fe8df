"""The `tags` list column, derived from the metadata JSON text of each spend log (or LiteLLM's `request_tags`).

PostgreSQL prints `jsonb` canonically (`{"key": value, ...}`, keys ordered by length, then bytes), so
LiteLLM's usual metadata starts with `{"tags": [`. Those rows, when their tag array is a list of strings
without quotes or backslashes inside, are split with vectorized string kernels; every other row that
mentions `"tags"` is parsed with `json.loads` (exact, slower, rare). A row without a tag array gets NULL.
Doing it in SQL instead (`ARRAY(SELECT jsonb_array_elements_text(...))`) costs the server far more
(docs/benchmarks.md, "Extract").
"""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.compute as pc

_FAST = r'^\{"tags": \[(?P<items>(?:"[^"\\]*"(?:, "[^"\\]*")*)?)\]'
TAGS_TYPE = pa.list_(pa.string())


def tags_from_metadata(metadata: pa.Array) -> pa.Array:
    """A list<string> array: the `tags` array of each metadata JSON text (NULL when it has none)."""
    if len(metadata) == 0:
        return pa.array([], type=TAGS_TYPE)
    matched = pc.extract_regex(metadata, _FAST)
    hit = pc.is_valid(matched)  # the struct is NULL where the pattern did not match
    items = matched.field("items")  # the child ignores the struct's validity: "" where no match
    split = pc.split_pattern(pc.utf8_slice_codeunits(items, 1, -1), '", "')  # strip the outer quotes
    # Built from offsets rather than with if_else (which costs twice the regex): `[]` splits into [""],
    # so those rows (and the non-matching ones, NULL below) lose their one element.
    empty = pc.fill_null(pc.equal(items, ""), False)
    values = pc.list_flatten(split)
    lengths = pc.list_value_length(split)
    if pc.any(empty).as_py():
        values = values.filter(pc.invert(pc.take(empty, pc.list_parent_indices(split))))
        lengths = pc.subtract(lengths, pc.cast(empty, pa.int32()))
    offsets = pa.concat_arrays([pa.array([0], pa.int32()), pc.cumulative_sum(lengths).cast(pa.int32())])
    fast = pa.ListArray.from_arrays(offsets, values, type=TAGS_TYPE, mask=pc.invert(hit))
    if pc.all(hit).as_py():
        return fast
    mentions = pc.fill_null(pc.match_substring(metadata, '"tags"'), False)
    slow_mask = pc.and_(pc.invert(hit), mentions)
    if not pc.any(slow_mask).as_py():
        return fast
    values = fast.to_pylist()
    texts = metadata.to_pylist()
    for i in pc.indices_nonzero(slow_mask).to_pylist():
        values[i] = _parse(texts[i])
    return pa.array(values, type=TAGS_TYPE)


def tags_from_json_list(lists: pa.Array) -> pa.Array:
    """A list<string> array from JSON list texts (LiteLLM's `request_tags`, e.g. `["a", "b"]`).

    Each text is wrapped as `{"tags": ...}` and read by `tags_from_metadata`, so both flavours share
    one parser; an empty list is an empty list, NULL or `null` is NULL."""
    wrapped = pc.binary_join_element_wise(pa.scalar('{"tags": '), lists, pa.scalar("}"), "")
    return tags_from_metadata(wrapped)


def _parse(text: str | None) -> list[str] | None:
    try:
        tags = json.loads(text).get("tags") if text else None
    except (ValueError, AttributeError):
        return None
    if not isinstance(tags, list):
        return None
    return [t if isinstance(t, str) else json.dumps(t) for t in tags]
