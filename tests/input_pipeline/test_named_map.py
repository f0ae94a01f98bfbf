"""`named_map`: `Dataset.map` in parallel and in order, failures named."""

import numpy as np
import pytest
import tensorflow as tf

from has_tf.input_pipeline import named_map as nm


def _square_unless_negative(x, name):
    tf.debugging.assert_non_negative(x)  # An op that fails, unnamed.
    return x * x, name


def _data(values):
    """`(value, "item<position>")` elements."""
    return tf.data.Dataset.from_tensor_slices(
        (values, [f"item{i}" for i in range(len(values))])
    )


def _named(data, group=4):
    return nm.named_map(
        data,
        _square_unless_negative,
        lambda x, name: name,
        "this one failed:",
        group=group,
    )


@pytest.mark.parametrize("count", [1, 7, 8, 203])
def test_the_same_elements_in_the_same_order_as_map(count):
    values = list(range(count))
    named = _named(_data(values))
    plain = _data(values).map(_square_unless_negative)
    assert named.element_spec == plain.element_spec
    got = [(int(x), n.decode()) for x, n in named.as_numpy_iterator()]
    assert got == [(v * v, f"item{v}") for v in values]  # v: position.


# Failing positions in groups of 4: a group's first and last, the next
# group's first, two in a row, the dataset's last.
@pytest.mark.parametrize("bad", [[0], [3], [4], [5, 6], [9]])
def test_the_first_failing_element_is_named_after_the_ones_before(bad):
    values = [-1 if v in bad else v for v in range(10)]
    iterator = iter(_named(_data(values)))
    before = [int(next(iterator)[0]) for _ in range(bad[0])]
    assert before == [v * v for v in range(bad[0])]
    with pytest.raises(tf.errors.InvalidArgumentError) as error:
        next(iterator)
    assert f"[this one failed:] [item{bad[0]}]" in str(error.value)


def test_an_error_before_the_map_stays_the_inputs_own():
    """Only the map's errors are caught and named: a failure upstream
    (a file that does not read) is raised as it was, nothing skipped."""

    def upstream(x, name):
        tf.debugging.assert_none_equal(x, 2, message="upstream broke")
        return x, name

    iterator = iter(_named(_data([0, 1, 2, 3]).map(upstream)))
    with pytest.raises(tf.errors.InvalidArgumentError) as error:
        for _ in range(4):
            next(iterator)
    assert "upstream broke" in str(error.value)
    assert "this one failed" not in str(error.value)


def test_an_endless_input_maps_in_order():
    named = _named(_data([1, 2, 3]).repeat(), group=2).take(7)
    assert [int(x) for x, _ in named.as_numpy_iterator()] == [
        1,
        4,
        9,
        1,
        4,
        9,
        1,
    ]


def test_shapes_unknown_and_static_survive():
    data = tf.data.Dataset.range(1, 5).map(
        lambda n: {
            "image": tf.fill([n], "x"),
            "file_name": tf.strings.as_string(n),
        }
    )
    named = nm.map_examples(
        data, lambda e: (tf.zeros([2, 3]), tf.strings.length(e["image"]))
    )
    assert named.element_spec[0].shape == [2, 3]
    assert named.element_spec[1].shape.as_list() == [None]
    lengths = [len(b) for _, b in named.as_numpy_iterator()]
    assert lengths == [1, 2, 3, 4]


def test_decoded_images_map_plainly_and_names_are_found():
    decoded = tf.data.Dataset.from_tensors(
        {"image": tf.zeros([2, 2, 3], tf.uint8)}
    )
    mapped = nm.map_examples(decoded, lambda e: e["image"])
    assert "Interleave" not in type(mapped).__name__
    assert np.array_equal(next(iter(mapped)), np.zeros([2, 2, 3]))
    assert nm.example_name({"image/filename": tf.constant("x.jpg")}) == b"x.jpg"
    assert b"without a file name" in nm.example_name({"label": 1}).numpy()


def test_a_bad_group_size_is_named():
    with pytest.raises(ValueError, match="Received: group=0"):
        _named(_data([1]), group=0)
