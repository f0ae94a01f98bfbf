"""has_tf: Hide-and-Seek (Singh & Lee, ICCV 2017) in TensorFlow 2 / Keras 3.

TensorFlow comes in several wheels that install the same `tensorflow`
module (`tensorflow`, `tensorflow-cpu`, ...), and two of them in one
environment break each other, so the wheel is chosen by an extra:

  pip install -e ".[cpu]"   # tensorflow-cpu: CPU-only machines
  pip install -e ".[gpu]"   # tensorflow[and-cuda]: NVIDIA GPUs
  pip install -e ".[tf]"    # the plain tensorflow wheel (TPU VMs, macOS)

A plain `pip install -e .` installs everything else and expects one of
them to be there already.
"""

import pathlib
import re

from setuptools import find_packages
from setuptools import setup

_HERE = pathlib.Path(__file__).parent
_VERSION = re.search(
    r'__version__ = "([^"]+)"', (_HERE / "has_tf" / "__init__.py").read_text()
).group(1)
_TF = ">=2.16"  # The first release whose tf.keras is Keras 3.

setup(
    name="has_tf",
    version=_VERSION,
    description=(
        "Hide-and-Seek for weakly-supervised object and action "
        "localization in TensorFlow 2 / Keras 3"
    ),
    long_description=(_HERE / "README.md").read_text(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    license_files=["LICENSE"],
    python_requires=">=3.10",
    packages=find_packages(include=["has_tf", "has_tf.*"]),
    include_package_data=True,
    package_data={
        "has_tf": [
            "datasets/*/dummy_data/**/*",
            "datasets/*/*.tsv",
            "datasets/*/*.bib",
            "datasets/*/*.md",
        ]
    },
    install_requires=[
        "keras>=3.0",
        "tensorflow-datasets>=4.9",
        "numpy>=1.23",
        "scipy>=1.10",
        # The compiled union-find of the threshold sweep (postprocess).
        "numba>=0.59",
        "absl-py>=1.0",
        # Checkpoint files are checked before a resume (Keras needs it too);
        # keras.applications' .h5 weight files are read with it.
        "h5py",
        # Published pretrained weights (torchvision's, as timm ships them).
        "safetensors>=0.4",
        # tensorflow-datasets imports it for builders without declaring it.
        "importlib_resources",
        "matplotlib>=3.6",
        # Training logs to TensorBoard; tensorflow-cpu does not pull it in.
        "tensorboard",
    ],
    extras_require={
        "cpu": [f"tensorflow-cpu{_TF}"],
        "gpu": [f"tensorflow[and-cuda]{_TF}"],
        "tf": [f"tensorflow{_TF}"],
        # Lint and format (pinned: a formatter's output changes between
        # releases, and CI checks it).
        "lint": ["ruff==0.17.6"],
        # dill: tensorflow_datasets.testing (builder tests) imports it.
        # nbclient, nbformat, ipykernel: the notebook test runs it headless.
        # jax[cpu]: the layers and models are tested under Keras's JAX
        # backend too (tests/test_any_backend.py).
        "test": [
            "pytest>=7",
            # The suite runs on every core (pytest -n auto).
            "pytest-xdist>=3",
            "hypothesis>=6",
            "dill",
            "nbclient",
            "nbformat",
            "ipykernel",
            "jax[cpu]",
        ],
    },
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
