"""Every `python -m has_tf.<app>` command the docs print runs, on made-up data.

The commands are read from the non-Python code blocks of README.md,
flags/README.md, docs/ and the dataset READMEs, and run page by page in
order, each page in a working directory of its own, with exit status 0
expected. What the reader brings (downloads, weights, another tool's
output) is generated there instead, under the names the page uses:

- `data/manual/...` and `/path/to/...`: the builders' dummy data and the
  feature sets `make_layout_fixtures` / `make_fixtures` write in the
  published layouts;
- `result.json`, the kit's annotation folder, `scoremaps/` and wsolevaluation
  metadata: written from those sets;
- the plugin module of docs/adding_a_method.md: the page's own snippet;
- `flags/`: every flagfile, run through a copy that includes it and then
  shrinks the run (one step, small images, no pretrained weights: the user's
  files; the TFDS `caltech_birds2011` download and the generated synthetic
  sets' full configs replaced by `synthetic_parts/tiny`).

What the test changes on a command line, and nothing else: `--trials=30`
runs 1 trial, `--seeds=0,1,2` seed 0, the benchmarks run on small sizes
(two commands that become the same run once),
`HOST` is this machine with free ports, and servers (the data service's
dispatcher and worker) run until their page ends. A command with a
placeholder (`<experiment>`) is a form, not a command: test_docs checks its
module exists.
"""

from __future__ import annotations

import json
import pathlib
import re
import shlex
import shutil
import socket

import numpy as np
import pytest

from has_tf import config as config_lib
from has_tf.datasets.activitynet_features import make_fixtures as anet_fixtures
from has_tf.datasets.thumos14_features import make_layout_fixtures
from has_tf.metrics import detection_files
from tests import app_server
from tests.bench import json_checks

ROOT = pathlib.Path(__file__).parent.parent
DATASETS = ROOT / "has_tf" / "datasets"
PAGES = [
    ROOT / "README.md",
    ROOT / "flags" / "README.md",
    *sorted((ROOT / "docs").glob("*.md")),
    *sorted(DATASETS.glob("*/README.md")),
]


def page_commands(page: pathlib.Path) -> list[dict]:
    """The page's commands in order: `{"argv", "env"}` per `python -m
    has_tf...` line of its shell blocks (continuations joined, `&&` split,
    `export NAME=...` lines carried to the commands after them)."""
    commands = []
    for language, block in re.findall(
        r"```(\w*)\n(.*?)```", page.read_text(), re.S
    ):
        if language == "python":
            continue
        env = {}
        for words in _shell_lines(block):
            if words[:1] == ["export"]:
                name, value = " ".join(words[1:]).split("=", 1)
                env[name] = value
                continue
            parts, argv = [], []
            for word in [*words, "&&"]:
                if word == "&&":
                    parts.append(argv)
                    argv = []
                else:
                    argv.append(word)
            for argv in parts:
                if (
                    argv[:2] == ["python", "-m"]
                    and argv[2:3] != []
                    and (argv[2].startswith("has_tf"))
                ):
                    commands.append({"argv": argv, "env": dict(env)})
    return commands


def _shell_lines(block: str):
    """The words of each shell line (continuations and lines inside a
    quoted string joined, comments dropped)."""
    pending = ""
    for line in re.sub(r"\\\n\s*", " ", block).splitlines():
        pending += line + "\n"
        try:
            words = shlex.split(pending, comments=True)
        except ValueError:  # A quoted string goes on.
            continue
        pending = ""
        if words:
            yield words


def _is_form(argv) -> bool:
    return any(re.search(r"<\w+>|\[--", word) for word in argv)


# --- what the reader brings, generated -------------------------------------

_IMAGE_SHRINK = [
    "--epochs=1",
    "--steps_per_epoch=1",
    "--batch_size=2",
    "--eval_batch_size=2",
    "--num_pictures=0",
    "--tensorboard_images=0",
    "--max_images=4",
]
_VIDEO_SHRINK = [
    "--epochs=1",
    "--steps_per_epoch=1",
    "--batch_size=6",  # DELU's batches open with 3 pairs
    "--eval_batch_size=2",
    "--num_plots=0",
]
# Datasets only a download gives (TFDS fetches caltech_birds2011 itself) or
# that take long to generate in full: the tiny synthetic set instead.
_DATASET_STANDINS = {
    "cub": "synthetic_parts/tiny",
    "synthetic_parts": "synthetic_parts/tiny",
    "synthetic_actions": "synthetic_actions/tiny",
}


def _shrink(flagfile: pathlib.Path) -> list[str]:
    flag_values = config_lib.read_flagfile(str(flagfile))
    values = {name: flag_values[name].value for name in flag_values}
    if (values.get("dataset") or "").startswith(
        ("thumos14", "activitynet")
    ) or ("actions" in (values.get("dataset") or "")):
        extra = list(_VIDEO_SHRINK)
    else:
        extra = list(_IMAGE_SHRINK)
        side = 28 if values.get("model") == "small_gap" else 64
        extra += [f"--image_size={side}", f"--resize_size={side + 4}"]
        if values.get("box_protocol") == "wsolevaluation":
            # Its frame is 224 x 224: small images score by has_tf's rules.
            extra.append("--box_protocol=has_tf")
        if values.get("init_from"):
            extra.append("--init_from=")
        if values.get("normalization") == "weights":
            extra.append("--normalization=imagenet")
    standin = _DATASET_STANDINS.get(values.get("dataset", "synthetic_parts"))
    if standin:
        extra += [f"--dataset={standin}", "--manual_dir="]
    return extra


def _flags(work: pathlib.Path) -> None:
    """`work/flags/`: each flagfile as a copy that includes it, then
    shrinks the run (the includes inside resolve to the copies too)."""
    for path in (ROOT / "flags").rglob("*.cfg"):
        copy = work / path.relative_to(ROOT)
        copy.parent.mkdir(parents=True, exist_ok=True)
        with_cwd = path.relative_to(ROOT)
        lines = [f"--flagfile={path}"]
        if not path.name.startswith("base_"):  # Shrunk where included.
            lines += _shrink_from(with_cwd)
        copy.write_text("\n".join(lines) + "\n")
    (work / "flags" / "spaces").symlink_to(ROOT / "flags" / "spaces")


def _shrink_from(relative: pathlib.Path) -> list[str]:
    # Flagfiles include others by paths relative to the repository root.
    import os

    here = os.getcwd()
    os.chdir(ROOT)
    try:
        return _shrink(relative)
    finally:
        os.chdir(here)


def _merge(source: pathlib.Path, target: pathlib.Path) -> None:
    shutil.copytree(source, target, dirs_exist_ok=True)


def _thumos_detections(root: pathlib.Path) -> list:
    """One detection per ground-truth segment of the fixture's test videos,
    as another method's code would write them."""
    rows = []
    names = list(detection_files.THUMOS14_CLASSES)
    for video, (
        subset,
        _,
        _,
        segments,
        _,
    ) in make_layout_fixtures.VIDEOS.items():
        if subset != "test":
            continue
        for start, end, name in segments:
            rows.append((video, start, end, names.index(name), 0.9))
    return rows


def _scoremaps(work: pathlib.Path) -> None:
    """wsolevaluation's ILSVRC val metadata and one CAM per image."""
    meta = work / "metadata" / "ILSVRC" / "val"
    _merge(
        DATASETS
        / "wsol_imagenet"
        / "dummy_data"
        / "metadata"
        / "ILSVRC"
        / "val",
        meta,
    )
    rng = np.random.default_rng(0)
    for image_id in (meta / "image_ids.txt").read_text().split():
        path = work / "scoremaps" / f"{image_id}.npy"
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, rng.uniform(size=(28, 28)).astype(np.float32))


def _givens(work: pathlib.Path) -> dict:
    """Writes what the pages' readers bring; returns `/path/to/...` ->
    the generated folder, per dataset name."""
    manual = work / "data" / "manual"
    thumos = make_layout_fixtures.write(
        "basnet", manual / "thumos14_i3d", official=True
    )
    make_layout_fixtures.write("wtalc", manual / "thumos14_wtalc")
    anet_fixtures.write("acmnet", manual / "activitynet13_i3d")
    anet_fixtures.write("wtalc", manual / "activitynet12")
    for name in ("wsol_cub", "wsol_imagenet", "openimages30k"):
        _merge(DATASETS / name / "dummy_data", manual / "wsol")
    _merge(
        DATASETS / "ilsvrc_loc" / "dummy_data" / "kaggle", manual / "ilsvrc_loc"
    )
    detections = _thumos_detections(thumos)
    for name in ("result.json", "results.json"):
        detection_files.write_activitynet_json(str(work / name), detections)
    _merge(
        thumos / "annotations" / "test",
        work / "TH14_Temporal_annotations_test" / "annotation",
    )
    _scoremaps(work)
    snippet = re.findall(
        r"```python\n(.*?)```",
        (ROOT / "docs" / "adding_a_method.md").read_text(),
        re.S,
    )[0]
    (work / "my_lab").mkdir()
    (work / "my_lab" / "__init__.py").write_text("")
    (work / "my_lab" / "channel_drop.py").write_text(snippet)
    _flags(work)
    return {
        "wsol_cub": manual / "wsol",
        "wsol_imagenet": manual / "wsol",
        "openimages30k": manual / "wsol",
        "ilsvrc_loc": manual / "ilsvrc_loc",
        "thumos14_features/i3d": manual / "thumos14_i3d",
        "thumos14_features/wtalc": manual / "thumos14_wtalc",
        "activitynet_features/wtalc_v1_2": manual / "activitynet12",
    }


# --- the command line as run --------------------------------------------------

_BENCH_SIZES = {
    "hiding": ["--batch=2", "--size=16", "--repeats=1"],
    "models": [
        "--models=small_gap",
        "--batch=2",
        "--repeats=1",
        "--num_classes=3",
    ],
    "boxes": [
        "--images=1",
        "--size=16",
        "--repeats=1",
        "--end_to_end_images=1",
    ],
    "pipeline": ["--batch=2", "--batches=1", "--repeats=1"],
    "video_memory": ["--videos=2", "--batch=2", "--dim=8", "--old_videos=2"],
    "video_methods": ["--batch=6", "--dim=8", "--steps=40", "--repeats=1"],
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def _as_run(argv, env, manual_dirs, ports) -> tuple[list, dict]:
    """The command with the test's stated changes (module docstring)."""
    module, args = argv[2], list(argv[3:])
    out = []
    for arg in args:
        for number, port in ports.items():
            arg = arg.replace(f"HOST:{number}", f"localhost:{port}")
            if arg == f"--port={number}":
                arg = f"--port={port}"
        if arg.startswith("--manual_dir=/path/to/"):
            arg = f"--manual_dir={manual_dirs[args[0]]}"
        arg = {"--trials=30": "--trials=1", "--seeds=0,1,2": "--seeds=0"}.get(
            arg, arg
        )
        out.append(arg)
    if module == "has_tf.bench":  # The last value of a flag counts.
        out += _BENCH_SIZES[out[0]]
    env = dict(env)
    if "TF_CONFIG" in env:  # One worker here, on a free port.
        config = json.loads(env["TF_CONFIG"])
        config["cluster"]["worker"] = [f"localhost:{_free_port()}"]
        env["TF_CONFIG"] = json.dumps(config)
    return ["-m", module, *out], env


def _effective(argv) -> tuple:
    """What a command runs: its module, positional words and each flag's
    last value (`--batch 8 ... --batch=2` runs with 2)."""
    words, positional, flags = list(argv[2:]), [], {}
    index = 0
    while index < len(words):
        word = words[index]
        if word.startswith("--"):
            name, has_value, value = word[2:].partition("=")
            following = words[index + 1 : index + 2]
            if not has_value and following and not following[0].startswith("-"):
                value, index = following[0], index + 1
            flags[name] = value
        else:
            positional.append(word)
        index += 1
    return argv[1], tuple(positional), tuple(sorted(flags.items()))


def test_a_command_is_known_by_what_it_runs():
    first = ["-m", "has_tf.bench", "hiding", "--batch=2", "--size=16"]
    again = ["-m", "has_tf.bench", "hiding", "--batch", "8", *first[3:]]
    assert _effective(first) == _effective(again)
    assert _effective(first) != _effective([*first, "--size=32"])
    assert _effective(first) != _effective(["-m", "has_tf.bench", "boxes"])


_SERVERS = ("has_tf.data_service",)
# Runs a page takes as given, made as the page that shows them makes them.
_NEEDS = {
    "run_directory.md": [
        "python -m has_tf.train --flagfile=flags/quickstart.cfg",
        "python -m has_tf.train --flagfile=flags/quickstart_baseline.cfg",
    ],
}


def _pages_with_commands():
    return [
        p
        for p in PAGES
        if any(not _is_form(c["argv"]) for c in page_commands(p))
    ]


def test_the_reader_finds_commands():
    """The extraction sees what a reader sees (a test that can fail)."""
    readme = page_commands(ROOT / "README.md")
    assert [c["argv"][2] for c in readme] == ["has_tf.train", "has_tf.evaluate"]
    scaling = page_commands(ROOT / "docs" / "scaling.md")
    assert "TF_CONFIG" in scaling[-1]["env"]
    assert len(_pages_with_commands()) >= 15


@pytest.mark.slow
@pytest.mark.parametrize(
    "page", _pages_with_commands(), ids=lambda p: str(p.relative_to(ROOT))
)
def test_every_command_the_page_prints_runs(page, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    manual_dirs = _givens(work)
    ports = {5050: _free_port(), 5051: _free_port()}
    env_base = {"PYTHONPATH": str(work)}
    servers, ran = [], []
    needs = [
        {"argv": shlex.split(line), "env": {}}
        for line in _NEEDS.get(page.name, [])
    ]
    done_before = []
    try:
        for command in [*needs, *page_commands(page)]:
            if _is_form(command["argv"]):
                continue
            argv, env = _as_run(
                command["argv"], command["env"], manual_dirs, ports
            )
            env = {**env_base, **env}
            if (_effective(argv), env) in done_before:
                continue  # The same as run (two sizes of one benchmark).
            done_before.append((_effective(argv), env))
            if argv[1] in _SERVERS:
                servers.append(app_server.start(argv, cwd=work, env=env))
                continue
            done = app_server.run(argv, cwd=work, env=env)
            ran.append(" ".join(argv[1:]))
            assert done.returncode == 0, (
                f"{page.name}: python {' '.join(argv)} exited "
                f"{done.returncode}\n{done.stderr[-3000:]}"
            )
            if argv[1] == "has_tf.bench":  # Its JSON, on stdout.
                json_checks.CHECKS[argv[2]](json.loads(done.stdout))
        for server in servers:
            assert server.poll() is None, (server.args, server.stderr)
    finally:
        for server in servers:
            server.kill()
            server.wait()
    assert ran
