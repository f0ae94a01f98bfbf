"""The Markdown a reader follows: every path, flagfile and `python -m`
command it names exists, every link resolves, and the Python snippets of
README.md and docs/ run as written (with 0.2 names turned into errors).
The shell commands themselves run in tests/test_doc_commands.py."""

import glob
import importlib.util
import itertools
import pathlib
import re
import warnings

import pytest

from has_tf.methods import registry

ROOT = pathlib.Path(__file__).parent.parent
# CHANGELOG.md names 0.1/0.2 paths on purpose; the rest must be current.
PAGES = sorted(
    [
        ROOT / "README.md",
        ROOT / "WORKSPACE.md",
        ROOT / "flags" / "README.md",
        *(ROOT / "docs").glob("*.md"),
        *(ROOT / "has_tf" / "datasets").glob("*/README.md"),
    ]
)
SNIPPET_PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_TOP = ("has_tf/", "flags/", "docs/", "notebooks/", "tests/", ".ci/")
_FILES = ("README.md", "WORKSPACE.md", "CHANGELOG.md", "setup.py")


def _expand_braces(text):
    """`a_{1,2}.cfg` -> `a_1.cfg`, `a_2.cfg` (shell brace expansion)."""
    parts = re.split(r"(\{[^{}]*\})", text)
    choices = [p[1:-1].split(",") if p.startswith("{") else [p] for p in parts]
    return ["".join(c) for c in itertools.product(*choices)]


def _exists(path: str, base: pathlib.Path) -> bool:
    path = path.split("#", 1)[0].rstrip(".,:;)")
    if not path:
        return True
    return all(
        glob.glob(str(base / p)) or (base / p).exists()
        for p in _expand_braces(path)
    )


def problems(text: str, page: pathlib.Path) -> list:
    """What `text` (the Markdown of `page`) names that does not exist."""
    found = []
    for module in sorted(set(re.findall(r"python -m (has_tf[\w.]*)", text))):
        if importlib.util.find_spec(module) is None:
            found.append(f"no module {module}")
    for path in sorted(set(re.findall(r"flags/[\w{},*.-]+\.cfg", text))):
        if not _exists(path, ROOT):
            found.append(f"no flagfile {path}")
    for token in sorted(set(re.findall(r"`([^`\s]+)`", text))):
        token = token.split("=", 1)[-1]
        is_path = token.startswith(_TOP) or token in _FILES
        if is_path and "<" not in token and not _exists(token, ROOT):
            found.append(f"no path {token}")
        elif re.fullmatch(r"[\w{},*.-]+\.cfg", token):  # A flagfile's name.
            if not _exists(token, ROOT / "flags"):
                found.append(f"no flagfile {token}")
    for target in sorted(set(re.findall(r"\]\(([^)\s]+)\)", text))):
        if target.startswith(("http://", "https://", "#")):
            continue
        if not _exists(target, page.parent):
            found.append(f"broken link {target}")
    return found


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_name_exists(page):
    assert problems(page.read_text(), page) == []


def test_the_check_finds_what_is_missing():
    text = (
        "Run `python -m has_tf.nothing` with `flags/none_{a,b}.cfg`, see "
        "`has_tf/gone.py` and [x](docs/missing.md); "
        "`has_tf/augmentation/hiding.py`, "
        "`flags/quickstart{,_baseline}.cfg`, `alexnet_has_{16,32}.cfg` and "
        "[y](docs/api.md) exist; `alexnet_has_{16,17}.cfg` does not."
    )
    assert sorted(problems(text, ROOT / "README.md")) == [
        "broken link docs/missing.md",
        "no flagfile alexnet_has_{16,17}.cfg",
        "no flagfile flags/none_{a,b}.cfg",
        "no module has_tf.nothing",
        "no path flags/none_{a,b}.cfg",
        "no path has_tf/gone.py",
    ]


def test_docs_are_in_the_front_door():
    readme = (ROOT / "README.md").read_text()
    assert 100 <= len(readme.splitlines()) <= 200
    for page in (ROOT / "docs").glob("*.md"):
        assert f"](docs/{page.name})" in readme, page.name


def _snippets(page):
    return re.findall(r"```python\n(.*?)```", page.read_text(), re.S)


@pytest.mark.parametrize(
    "page",
    [p for p in SNIPPET_PAGES if _snippets(p)],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_snippets_run(page, tmp_path, monkeypatch, capsys):
    """A page's snippets run in order in one namespace, in an empty
    directory; the output a page quotes ("It prints `...`") is printed.
    Methods a page registers are gone afterwards."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(registry, "_METHODS", dict(registry._METHODS))
    namespace = {}
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        for i, code in enumerate(_snippets(page)):
            exec(compile(code, f"{page.name}[{i}]", "exec"), namespace)
    printed = capsys.readouterr().out
    for quoted in re.findall(r"[Ii]t prints `([^`]+)`", page.read_text()):
        assert quoted in printed
