"""The record a method is: what the rest of has_tf asks of it.

A method (Hide-and-Seek, CutMix, ADL, ...) is one module that builds one
frozen `Method` and registers it (`has_tf.methods.register`). Config,
tasks, model builders and evaluators read the record's fields and call its
hooks; none of them compares a method's name. A user's own method is the
same kind of record in the user's own module (docs/adding_a_method.md).

Plain Python: importing it loads no TensorFlow (hooks import what they
build when they are called).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from has_tf import vocabulary

# The tasks' inputs, as config tags its options.
TASKS = ("images", "videos")
# How a method changes the training input, if it does.
INPUT_CHANGES = ("none", "hide", "mix")
# Where it can do so: the tf.data pipeline, the model's first op, conv1,
# a transformer's patch tokens.
INPUT_PLACES = ("host", "device", "conv1", "tokens")

__all__ = ["INPUT_CHANGES", "INPUT_PLACES", "TASKS", "Method", "Option"]


@dataclasses.dataclass(frozen=True)
class Option:
    """A method's own option: a flag `--<name>` and a config value.

    Attributes:
      name: the flag's name (unique across registered methods and the
        config's own options).
      default: its default: a bool, int, float or str.
      help: the flag's help.
      lower, upper: inclusive bounds of a number (`lower_open`,
        `upper_open`: exclusive); None: unbounded.
      choices: the allowed values of a str option, if a fixed list.
    """

    name: str
    default: Any
    help: str
    lower: float | None = None
    upper: float | None = None
    lower_open: bool = False
    upper_open: bool = False
    choices: tuple | None = None


def _nothing(config) -> dict:
    return {}


@dataclasses.dataclass(frozen=True)
class Method:
    """Everything the rest of has_tf asks of a method.

    Attributes:
      name: what `--method` names it by; unique within its task.
      task: the inputs it trains on: "images" or "videos".
      summary: one line for `--help` and the docs.
      changes_input: how it changes the training input: "none", "hide"
        (parts of the input take the fill) or "mix" (parts come from
        another example).
      input_places: where it changes it: "host" (the tf.data pipeline),
        "device" (the model's first op), "conv1" (conv1's feature maps),
        "tokens" (a transformer's patch tokens).
      built_in: the places in the backbone where the method builds layers
        (a description, e.g. "three stage boundaries", "the head"); ()
        for a plain classifier.
      hiding: Hide-and-Seek composes with it: with `--patch_sizes` set
        (other than its default) the training input is hidden as
        `--method=has` hides it, beside what the method itself does
        (`has.optional_hiding`); without, nothing is hidden.
      soft_labels: training labels are float `[B, N]` class weights (the
        loss is then the soft cross-entropy), not int `[B]`.
      labels_in: the model takes the labels as a second input, in
        training and at evaluation (`[images, labels]`; the CAM of each
        class asked for is computed with that class).
      losses: the loss terms training minimises (names, for the record
        and the docs; terms beyond the cross-entropy are added by the
        model's own layers).
      cam: how its class activation map is read.
      box_rule: how its own code draws the paper protocol's box from the
        map (`postprocess.box_rules`, `vocabulary.BOX_RULES`): what
        `has_tf.evaluate --box_rule=method` scores its runs with.
      options: its own options (`Option`s), each a flag and a config
        value.
      reads: options of the config it reads (beside its own), recorded
        with it in `run_info.json`.
      search: the method's search space (`has_tf.search`'s JSON: option
        name -> distribution, e.g. `{"uniform": [0.0, 1.0]}`) over its
        own options and those it reads; the recipes' spaces in
        `flags/spaces/` extend it with the learning rate and the like.
      backbones: the `--model` names it goes with; None: any model of the
        table (`has_tf.models.table`) that can take it: one with method
        places when `built_in` is not empty.
      reference: where the method comes from (paper, code).
      chosen_by_auto: `config -> bool`: `--method=auto` picks this method
        when it holds (the task's default method otherwise).
      check: `config -> None`, raising ValueError (naming the flag) on
        options that do not go with the method.
      pipeline: `config -> dict`, how the method changes the training
        input on the host: fields of `input_pipeline.images.
        ImageAugmentation` (hiding, CutMix) for an image method, keyword
        arguments of `input_pipeline.videos.train_pipeline` (segment
        hiding) for a video one.
      model: `config -> dict` of keyword arguments for the model builder:
        `model_input`, a `has_tf.models.ModelInput` of the model's own
        hiding (device, conv1) whose normalisation the task fills in;
        `method`, a `has_tf.models.BuiltIn` of the layers it builds in.
      network: a video method's own network and objective, `(config,
        num_classes, feature_dim) -> (build_model, loss)`: `build_model()`
        makes (under the run's strategy) a `keras.Model` from
        float `[B, T, D]` features to float32 logits `[B, N]` (whose
        softmax is the video's class scores; its T-CAM readable by
        `models.temporal_cam_model`; terms beyond `loss` added by its own
        layers) and the per-video loss `(labels [B, N], logits) -> [B]`.
        None: the task's network (`models.temporal_net` and
        `--temporal_loss`).
    """

    name: str
    task: str
    summary: str
    changes_input: str = "none"
    input_places: tuple = ()
    built_in: tuple = ()
    hiding: bool = False
    soft_labels: bool = False
    labels_in: bool = False
    losses: tuple = ("cross_entropy",)
    cam: str = "the class's map of the CAM head"
    box_rule: str = "paper"
    options: tuple = ()
    reads: tuple = ()
    search: dict = dataclasses.field(default_factory=dict)
    backbones: tuple | None = None
    reference: str = ""
    chosen_by_auto: Callable[[Any], bool] | None = None
    check: Callable[[Any], None] | None = None
    pipeline: Callable[..., dict] = _nothing
    model: Callable[..., dict] = _nothing
    network: Callable[..., Any] | None = None

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name.isidentifier():
            raise ValueError(
                "Expected a method name that is a Python identifier. "
                f"Received: name={self.name!r}"
            )
        if self.name == "auto":
            raise ValueError(
                "'auto' is --method's own choice, not a method's name. "
                f"Received: name={self.name!r}"
            )
        for field, value, allowed in (
            ("task", self.task, TASKS),
            ("changes_input", self.changes_input, INPUT_CHANGES),
            ("box_rule", self.box_rule, vocabulary.BOX_RULES),
        ):
            if value not in allowed:
                raise ValueError(
                    f"Method {self.name!r}: expected `{field}` in {allowed}. "
                    f"Received: {field}={value!r}"
                )
        bad = [p for p in self.input_places if p not in INPUT_PLACES]
        if bad:
            raise ValueError(
                f"Method {self.name!r}: expected `input_places` from "
                f"{INPUT_PLACES}. Received: input_places={self.input_places!r}"
            )
        for option in self.options:
            if not isinstance(option, Option):
                raise ValueError(
                    f"Method {self.name!r}: expected `options` of "
                    f"has_tf.methods.Option. Received: {option!r}"
                )

    @property
    def option_names(self) -> tuple:
        """The names of its own options."""
        return tuple(option.name for option in self.options)

    def record(self, config) -> dict:
        """The method and the values of what it reads, for `run_info.json`
        (`{"name": ..., option: value, ...}`, lists for tuples)."""
        values = {
            key: getattr(config, key)
            for key in (*self.reads, *self.option_names)
        }
        return {
            "name": self.name,
            **{
                k: list(v) if isinstance(v, tuple) else v
                for k, v in values.items()
            },
        }
