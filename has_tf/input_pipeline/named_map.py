"""A parallel, ordered `Dataset.map` whose failures name the element.

An op that fails inside `tf.data` (a JPEG cut short or damaged inside
fails in TensorFlow's decoder) stops the iteration with the op's own
message, which names no file, and nothing inside the graph can catch it
but `ignore_errors`, which drops elements silently. `named_map` scopes
`ignore_errors` to the map of one group of elements at a time and then
checks that none went missing, naming the first that did (the example's
file name). Its cost next to decoding a JPEG's crop window:
`python -m has_tf.bench pipeline` (`windows_*_naming_cost`).
"""

from __future__ import annotations

import tensorflow as tf

from has_tf import _checks

# Keys under which TFDS image datasets keep an example's file name.
NAME_KEYS = ("file_name", "image/filename", "image_id")


def example_name(example) -> tf.Tensor:
    """A scalar tf.string naming `example`: its first field of `NAME_KEYS`,
    else "(an example without a file name)"."""
    if isinstance(example, dict):
        for key in NAME_KEYS:
            if key in example and example[key].dtype == tf.string:
                return tf.reshape(example[key], [])
    return tf.constant("(an example without a file name)")


# What the pipelines say of an image that fails to decode.
UNDECODABLE = (
    "Expected an image TensorFlow decodes whole; this file is cut short, "
    "damaged inside or of no image format:"
)


def map_examples(dataset: tf.data.Dataset, fn) -> tf.data.Dataset:
    """`dataset.map(fn)` over TFDS examples, parallel and in order, where an
    example whose encoded image fails to decode raises naming its file.

    Args:
      dataset: elements are an example dict (with "image": encoded
        tf.string, or decoded uint8) or a tuple whose first component is
        one.
      fn: the per-element map, as `Dataset.map` takes it.

    Returns:
      `dataset.map(fn)`'s elements. With encoded images, through
      `named_map`: an image that fails (cut short, damaged inside, no image
      format) raises `tf.errors.InvalidArgumentError` holding `UNDECODABLE`
      and the example's name (`example_name`); decoded images cannot fail
      to decode, and map plainly.
    """
    spec = dataset.element_spec
    example = spec[0] if isinstance(spec, tuple) else spec
    if example["image"].dtype != tf.string:
        return dataset.map(fn, num_parallel_calls=tf.data.AUTOTUNE)
    return named_map(
        dataset, fn, lambda first, *_: example_name(first), UNDECODABLE
    )


def _empty(spec: tf.TensorSpec) -> tf.Tensor:
    shape = [0 if d is None else d for d in spec.shape.as_list()]
    return tf.zeros(shape, spec.dtype)


def _call(fn, element):
    """`fn` on an element as `Dataset.map` passes it (a tuple unpacked)."""
    return fn(*element) if isinstance(element, tuple) else fn(element)


def named_map(
    dataset: tf.data.Dataset, fn, name_of, message: str, group: int = 32
):
    """`dataset.map(fn)`, parallel and in the same order, except that an
    element on which `fn` fails raises naming it.

    The elements go in groups of `group` (`Dataset.window`, which reads
    them, so errors before the map stay the input's own); each group is
    mapped in a dataset of its own with `ignore_errors`, its elements
    numbered, and a scan over the survivors finds the first one missing
    and fails naming it. A parallel interleave (`block_length=group`) runs
    the groups on the cores and keeps the order.

    Args:
      dataset: any dataset; `fn` and `name_of` take its elements as
        `Dataset.map` passes them. A group's map starts afresh, so `fn`
        should draw random numbers statelessly from its inputs (as has_tf's
        pipelines do).
      fn: the per-element map (traced once).
      name_of: maps an element to a scalar tf.string naming it.
      message: what the error says before the name.
      group: elements per group (memory: `group` x cores input elements).

    Returns:
      `dataset.map(fn)`'s elements, in order, with its element spec.
      Iterating raises `tf.errors.InvalidArgumentError` holding `message`
      and the element's name when `fn` fails on an element (whatever the
      op's own error), after the elements before it.

    Raises:
      ValueError: `group` not a positive int.
    """
    group = _checks.positive_int(group, "group")

    def one_group(*window):
        examples = tf.data.Dataset.zip(window if len(window) > 1 else window[0])
        mapped = examples.enumerate().map(
            lambda index, element: (index, _call(fn, element))
        )
        size = examples.cardinality()  # A window's is known (`reduce` is slow).
        end = tf.data.Dataset.from_tensors(
            (size, tf.nest.map_structure(_empty, mapped.element_spec[1]))
        )

        def check(expected, item):
            arrived = tf.equal(item[0], expected)
            name = tf.cond(
                arrived,
                lambda: tf.constant(""),
                lambda: _call(
                    name_of,
                    examples.skip(expected).take(1).get_single_element(),
                ),
            )
            assertion = tf.debugging.Assert(arrived, [message, name])
            with tf.control_dependencies([assertion]):
                return expected + 1, tf.nest.map_structure(tf.identity, item[1])

        # The end marker checks for a missing last element; `take` drops it.
        return (
            mapped.ignore_errors()
            .concatenate(end)
            .scan(tf.constant(0, tf.int64), check)
            .take(size)
        )

    return dataset.window(group).interleave(
        one_group,
        block_length=group,
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    )
