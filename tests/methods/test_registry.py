"""has_tf.methods: the registry's rules, `--method`'s resolution, and that
the records say what the apps used to decide by name."""

import dataclasses
import json
import pathlib
import subprocess
import sys

import pytest

from has_tf import config as config_lib
from has_tf import methods
from has_tf.methods import registry

ROOT = pathlib.Path(__file__).parent.parent.parent


@pytest.fixture
def fresh_registry(monkeypatch):
    """The registry as it is, restored afterwards."""
    monkeypatch.setattr(registry, "_METHODS", dict(registry._METHODS))


def _config(**options):
    base = dict(model_dir="/tmp/unused", dataset="synthetic_parts/tiny")
    return config_lib.TrainConfig(**{**base, **options})


def test_the_built_in_methods_of_each_task():
    assert set(methods.names("images")) == {
        "cam",
        "has",
        "cutmix",
        "adl",
        "acol",
        "tscam",
        "scm",
        "sat",
    }
    assert set(methods.names("videos")) == {
        "cam",
        "has",
        "cola",
        "aicl",
        "delu",
    }


@pytest.mark.parametrize(
    "task, options, name",
    [
        ("images", dict(), "has"),
        ("images", dict(patch_sizes=()), "cam"),
        ("images", dict(patch_sizes=(), conv1_patch_sizes=(4,)), "has"),
        ("videos", dict(), "has"),
        ("videos", dict(segment_size=0), "cam"),
    ],
)
def test_auto_picks_by_what_is_hidden(task, options, name):
    config = _config(model="small_gap", **options)
    assert methods.resolve(config, task).name == name
    assert config.method == name
    assert methods.resolve(config, task).name == name  # Again: a no-op.


def test_video_cam_turns_segment_hiding_off_and_has_needs_it():
    config = _config(method="cam")
    methods.resolve(config, "videos")
    assert config.segment_size == 0
    with pytest.raises(ValueError, match="--method: cam hides no frame"):
        methods.resolve(_config(method="cam", segment_size=50), "videos")
    with pytest.raises(ValueError, match="--method: has hides frame"):
        methods.resolve(_config(method="has", segment_size=0), "videos")


def test_a_method_of_another_task_is_not_found():
    with pytest.raises(ValueError, match="no videos method is called 'adl'"):
        methods.resolve(_config(method="adl", patch_sizes=()), "videos")


@pytest.mark.parametrize(
    "record, match",
    [
        (dict(name="bad name"), "identifier"),
        (dict(name="auto"), "auto"),
        (dict(task="audio"), "task"),
        (dict(changes_input="blur"), "changes_input"),
        (dict(input_places=("gpu",)), "input_places"),
        (dict(options=("x",)), "options"),
    ],
)
def test_a_bad_record_is_named(record, match):
    fields = dict(name="toy", task="images", summary="a toy")
    with pytest.raises(ValueError, match=match):
        methods.Method(**{**fields, **record})


def test_register_refuses_a_taken_name_and_a_taken_option(fresh_registry):
    with pytest.raises(ValueError, match="registered already"):
        methods.register(
            methods.Method(name="adl", task="images", summary="another")
        )
    taken = methods.Option("cutmix_beta", 2.0, "another beta")
    with pytest.raises(ValueError, match="--cutmix_beta is method 'cutmix'"):
        methods.register(
            methods.Method(
                name="toy", task="images", summary="toy", options=(taken,)
            )
        )
    with pytest.raises(ValueError, match="Method"):
        methods.register("toy")
    # The same record twice (a module imported twice) is fine.
    record = methods.get("cutmix", "images")
    assert methods.register(record) is record


def test_a_registered_method_is_a_choice_with_its_options(fresh_registry):
    seen = []
    toy = methods.Method(
        name="toy",
        task="images",
        summary="toy",
        options=(methods.Option("toy_rate", 0.5, "a rate", lower=0.0),),
        check=lambda config: seen.append(config.toy_rate),
    )
    methods.register(toy)
    config = _config(method="toy", toy_rate=0.25)
    assert methods.resolve(config, "images") is toy and seen == [0.25]
    assert config.method_options["toy_rate"] == 0.25
    with pytest.raises(ValueError, match="--toy_rate.*-1.0"):
        _config(method="toy", toy_rate=-1.0)
    values = config_lib.read_flagfile(
        str(ROOT / "flags" / "quickstart.cfg"), method="toy"
    )
    assert values["toy_rate"].value == 0.5


def test_unknown_names_are_errors_that_name_the_flag():
    with pytest.raises(ValueError, match="--method.*bogus"):
        _config(method="bogus")
    with pytest.raises(ValueError, match="--method_options.*nope"):
        _config(method_options={"nope": 1})
    with pytest.raises(AttributeError, match="no_such_option"):
        _config().no_such_option  # noqa: B018


def test_each_record_declares_what_the_apps_used_to_decide_by_name():
    image = {m.name: m for m in methods.methods("images")}
    assert (
        image["cutmix"].soft_labels and image["cutmix"].changes_input == "mix"
    )
    assert image["acol"].labels_in and not image["adl"].labels_in
    assert image["has"].changes_input == "hide"
    assert {"host", "device", "conv1", "tokens"} == set(
        image["has"].input_places
    )
    assert image["adl"].option_names == ("adl_drop_rate", "adl_threshold")
    assert image["cam"].backbones is None
    config = _config(method="cutmix", cutmix_beta=2.0)
    methods.resolve(config, "images")
    assert image["cutmix"].record(config) == {
        "name": "cutmix",
        "cutmix_beta": 2.0,
        "cutmix_prob": 1.0,
    }
    assert image["cutmix"].pipeline(config) == {
        "cutmix_beta": 2.0,
        "cutmix_prob": 1.0,
    }


@pytest.mark.parametrize("name", ["cutmix", "adl", "acol", "has", "sat"])
def test_the_recipes_search_spaces_hold_the_methods_entries(name):
    """flags/spaces/<method>.json: wsolevaluation's common entries plus
    the method's own (its record's `search`)."""
    space = json.loads((ROOT / "flags" / "spaces" / f"{name}.json").read_text())
    record = methods.get(name, "images")
    assert record.search
    for option, entry in record.search.items():
        assert space[option] == entry, option


def test_no_module_but_the_methods_names_a_rival():
    """A method's name is written in its own module and the registry
    only (and in the layer modules of the methods built into models, and
    `has_tf.models`' exports of them)."""
    for name in ("cutmix", "adl", "acol", "tscam", "scm", "sat"):
        found = subprocess.run(
            ["grep", "-rln", f'"{name}"', "has_tf/"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        ).stdout.split()
        allowed = {
            f"has_tf/methods/images/{name}.py",
            f"has_tf/models/{name}.py",
            "has_tf/models/__init__.py",
        }
        assert set(found) <= allowed, (name, found)


def test_importing_the_methods_loads_no_tensorflow():
    code = (
        "import sys, has_tf.methods\n"
        "loaded = [m for m in ('tensorflow', 'keras') if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True)
    assert done.returncode == 0, done.stderr[-2000:]


def test_records_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        methods.get("has", "images").name = "other"
