"""The import graph of has_tf: no cycle, layers import one way.

WORKSPACE.md states the directions; these tests read every module's
imports (module level and inside functions alike) from its source.
"""

import ast
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).parent.parent
PACKAGE = ROOT / "has_tf"

# Apps: entry points nothing else may import (seeds runs train/evaluate).
APPS = {
    "has_tf.train",
    "has_tf.evaluate",
    "has_tf.evaluate_cams",
    "has_tf.evaluate_detections",
    "has_tf.seeds",
    "has_tf.search",
    "has_tf.data_service",
    "has_tf.demo",
    "has_tf.table",
    "has_tf.bench.__main__",
    "has_tf.datasets.__main__",
    "has_tf.pseudo_labels.__main__",
}
# Promised to load neither TensorFlow nor Keras when imported.
NUMPY_ONLY = [
    "has_tf",
    "has_tf._checks",
    "has_tf._cli",
    "has_tf._progress",
    "has_tf.vocabulary",
    "has_tf.methods",
    "has_tf.config",
    "has_tf.postprocess",
    "has_tf.metrics",
    "has_tf.runs",
    # Its worker processes import it afresh: seconds without TensorFlow.
    "has_tf.visualize",
    "has_tf.evaluate_cams",
    "has_tf.table",
    # Scores CAMs with NumPy, SciPy and numba only.
    "has_tf.bench.boxes",
]
# Written in keras.ops (every Keras backend): no TensorFlow import of their
# own (the hiding layers they use switch to TensorFlow ops in tf.data).
BACKEND_NEUTRAL = [
    "has_tf.augmentation.hiding_ops",
    "has_tf.augmentation.cutmix_ops",
    "has_tf.models",
]
# What the NumPy-only packages may not import.
_TENSORFLOW_LAYERS = [
    "has_tf.augmentation.hiding",
    "has_tf.augmentation.layers",
    "has_tf.augmentation.cutmix_layer",
    "has_tf.augmentation._layer_basics",
    "has_tf.models",
    "has_tf.input_pipeline",
    "has_tf.tasks",
    "has_tf.config",
    "has_tf.datasets",
]
# What the augmentation modules may not import: the layers built on them.
_ABOVE_AUGMENTATION = [
    "has_tf.models",
    "has_tf.tasks",
    "has_tf.input_pipeline",
    "has_tf.config",
]
# importer prefix -> prefixes it may not import.
FORBIDDEN = {
    "has_tf._checks": ["has_tf."],
    "has_tf._progress": ["has_tf."],
    "has_tf.vocabulary": ["has_tf."],
    "has_tf.augmentation.hiding": [
        "has_tf.augmentation.layers",
        *_ABOVE_AUGMENTATION,
    ],
    "has_tf.augmentation.cutmix": [
        "has_tf.augmentation.layers",
        *_ABOVE_AUGMENTATION,
    ],
    "has_tf.augmentation.cutmix_ops": [
        "has_tf.augmentation.cutmix",
        "has_tf.augmentation.hiding",
        "has_tf.augmentation.layers",
        *_ABOVE_AUGMENTATION,
    ],
    "has_tf.augmentation.hiding_ops": [
        "has_tf.augmentation.hiding",
        "has_tf.augmentation.layers",
        *_ABOVE_AUGMENTATION,
    ],
    "has_tf.augmentation._layer_basics": [
        "has_tf.augmentation.cutmix",
        "has_tf.augmentation.hiding",
        "has_tf.augmentation.layers",
        *_ABOVE_AUGMENTATION,
    ],
    "has_tf.augmentation.layers": [
        "has_tf.augmentation.cutmix_layer",
        *_ABOVE_AUGMENTATION,
    ],
    "has_tf.models": [
        "has_tf.tasks",
        "has_tf.input_pipeline",
        "has_tf.config",
        "has_tf.datasets",
    ],
    "has_tf.postprocess": ["has_tf.metrics", *_TENSORFLOW_LAYERS],
    "has_tf.metrics": _TENSORFLOW_LAYERS,
    "has_tf.input_pipeline": ["has_tf.tasks", "has_tf.config", "has_tf.models"],
    "has_tf.datasets": [
        "has_tf.tasks",
        "has_tf.config",
        "has_tf.models",
        "has_tf.input_pipeline",
    ],
    "has_tf.config": [*_TENSORFLOW_LAYERS, "has_tf.training", "has_tf.runs"],
    "has_tf.tasks": ["has_tf.config"],
    # A method's record knows no task, config, pipeline or dataset; its
    # hooks build with models when called.
    "has_tf.methods": [
        "has_tf.tasks",
        "has_tf.config",
        "has_tf.input_pipeline",
        "has_tf.datasets",
        "has_tf.training",
        "has_tf.runs",
    ],
    # What keeps a run safe knows no task, model or dataset.
    "has_tf.training": [*_TENSORFLOW_LAYERS, "has_tf.postprocess"],
    # A run's files: plain Python, for every app.
    "has_tf.runs": [
        *_TENSORFLOW_LAYERS,
        "has_tf.training",
        "has_tf.postprocess",
        "has_tf.metrics",
    ],
}


def _module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _runtime_nodes(tree):
    """Every node of `tree` but those under `if TYPE_CHECKING:`."""
    todo = [tree]
    while todo:
        node = todo.pop()
        yield node
        if (
            isinstance(node, ast.If)
            and getattr(node.test, "id", None) == "TYPE_CHECKING"
        ):
            todo.extend(node.orelse)
            continue
        todo.extend(ast.iter_child_nodes(node))


def _imports(path: pathlib.Path, known: set) -> set:
    """The has_tf modules `path` imports at run time (submodules resolved)."""
    found = set()
    for node in _runtime_nodes(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [
                f"{node.module}.{alias.name}" for alias in node.names
            ]
        else:
            continue
        found.update(n for n in names if n in known)
    return found


def _graph() -> dict:
    """module -> modules it imports, with their parent packages.

    Importing `a.b.c` runs `a.b` first, so it is an edge too, except for
    the importer's own ancestors (already being imported).
    """
    modules = _modules()
    known = set(modules)
    graph = {}
    for name, path in modules.items():
        ancestors = {
            ".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)
        }
        edges = set()
        for target in _imports(path, known):
            parts = target.split(".")
            for i in range(2, len(parts) + 1):
                prefix = ".".join(parts[:i])
                if prefix in known and prefix not in ancestors:
                    edges.add(prefix)
        edges.discard(name)
        graph[name] = edges
    return graph


def _cycle(graph: dict):
    """One import cycle as a list of modules, or None."""
    state = {}
    stack = []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_cycle_finder_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle():
    graph = _graph()
    assert "has_tf.tasks.image_localization" in graph  # The walk saw it.
    assert _cycle(graph) is None


def test_nothing_imports_an_app():
    for name, edges in _graph().items():
        allowed = (
            {"has_tf.train", "has_tf.evaluate"}
            if name in ("has_tf.seeds", "has_tf.search")
            else set()
        )
        assert not (edges & APPS) - allowed, (name, edges & APPS)


@pytest.mark.parametrize("importer", sorted(FORBIDDEN))
def test_layers_import_one_way(importer):
    for name, edges in _graph().items():
        if name != importer and not name.startswith(importer + "."):
            continue
        for target in edges:
            if target == importer or target.startswith(importer + "."):
                continue  # A package's modules import each other.
            for banned in FORBIDDEN[importer]:
                assert not target.startswith(banned), f"{name} imports {target}"


def test_tasks_are_used_by_apps_only():
    for name, edges in _graph().items():
        if name.startswith("has_tf.tasks") or name in APPS:
            continue
        assert not any(e.startswith("has_tf.tasks") for e in edges), name


def test_numpy_only_modules_load_no_tensorflow():
    """The one check of the promise (each module in a fresh process)."""
    code = (
        "import importlib, sys\n"
        "importlib.import_module(sys.argv[1])\n"
        "loaded = [m for m in ('tensorflow', 'keras') if m in sys.modules]\n"
        "assert not loaded, (sys.argv[1], loaded)\n"
    )
    for module in NUMPY_ONLY:
        done = subprocess.run(
            [sys.executable, "-c", code, module],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stderr[-2000:]


def test_the_config_loads_no_scoring_kernels():
    """Flags and their checks (every app's `--help`) stay plain Python:
    the config imports neither the compiled sweep nor SciPy."""
    code = (
        "import sys, has_tf.config\n"
        "loaded = [m for m in ('numba', 'scipy') if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]


def test_every_app_runs_through_the_cli_convention():
    """Each app's entry point is `_cli.run` (one error style, exit 1)."""
    for app in APPS:
        path = PACKAGE.joinpath(*app.split(".")[1:]).with_suffix(".py")
        source = path.read_text()
        assert "_cli.run(" in source, app
        assert "argparse" not in source and "app.run(" not in source, app


def test_every_app_imports_beside_the_others():
    """One process may import every app (the tests do): no flag is
    defined twice."""
    code = "; ".join(f"import {app}" for app in sorted(APPS))
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]


def _third_party_imports(path: pathlib.Path) -> set:
    names = set()
    for node in _runtime_nodes(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif (
            isinstance(node, ast.ImportFrom) and node.module and not node.level
        ):
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", BACKEND_NEUTRAL)
def test_backend_neutral_modules_import_no_tensorflow(package):
    modules = {
        name: path
        for name, path in _modules().items()
        if name == package or name.startswith(package + ".")
    }
    assert modules, package
    for name, path in modules.items():
        assert "tensorflow" not in _third_party_imports(path), name
