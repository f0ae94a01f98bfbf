"""ADL and ACoL sit where wsolevaluation's backbones put them.

The reference's placements (tests/fixtures/wsol_methods, recorded by
forward hooks on the tool's own models at 224x224): for every ADL layer
and ACoL head, the convs that ran before it and the shape it received;
for VGG16 the feature layers' max pools.
"""

import keras
import pytest

from has_tf import models
from has_tf.models import acol
from has_tf.models import adl
from tests import wsol_golden

BUILDERS = {
    "vgg16": models.vgg16_cam,
    "resnet50": models.resnet50_cam,
    "inception_v3": models.inception_v3_cam,
}


def _convs_before(layer):
    """Conv2D layers among the ancestors of `layer`'s inputs."""
    seen, stack, convs = set(), [layer], set()
    while stack:
        for node in stack.pop()._inbound_nodes:
            for tensor in node.input_tensors:
                source = tensor._keras_history.operation
                if id(source) not in seen:
                    seen.add(id(source))
                    stack.append(source)
                    if isinstance(source, keras.layers.Conv2D):
                        convs.add(id(source))
    return len(convs)


def _placements(model):
    rows = []
    for layer in model.layers:
        if isinstance(layer, adl.ADL):
            shape = layer.input.shape
            rows.append(("adl", _convs_before(layer), list(shape[1:])))
        elif isinstance(layer, acol.AcolHeads):
            shape = layer.input[0].shape
            rows.append(("classifier_A", _convs_before(layer), list(shape[1:])))
    return rows


def _pools(model):
    names = [layer.name for layer in model.layers]
    specs = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.MaxPooling2D):
            padded = f"{layer.name}_pad" in names or layer.padding == "same"
            specs.append(
                [layer.pool_size[0], layer.strides[0], 1 if padded else 0]
            )
    return specs


@pytest.mark.parametrize("large", [False, True], ids=["14", "28"])
@pytest.mark.parametrize("method", ["adl", "acol"])
@pytest.mark.parametrize("backbone", sorted(BUILDERS))
def test_placed_as_the_reference(backbone, method, large):
    reference = wsol_golden.placements()[
        f"{backbone}_{method}_{28 if large else 14}"
    ]
    model = BUILDERS[backbone](
        10,
        large_feature_map=large,
        method=getattr(models, method).built_in(),
    )
    expected = [
        (row["at"], row["convs_before"], row["shape_hwc"])
        for row in reference["hooks"]
        if row["at"] != "classifier_B"  # inside AcolHeads: the golden test
    ]
    assert _placements(model) == expected
    if backbone == "vgg16":
        assert _pools(model) == reference["feature_pools"]
    if method == "acol":
        assert [i.name for i in model.inputs] == ["images", "labels"]
