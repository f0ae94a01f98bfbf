"""Methods: each one module that declares what it is, one registry.

A method is a frozen `Method` record (`base`) built and registered by its
own module; everything else asks the record (`registry.resolve` turns
`--method` into it) and never compares a method's name:

- `base.py`: `Method` and `Option`, the record and its options;
- `registry.py`: `register`, `get`, `names`, `resolve`, `load_plugins`;
- `images/`: cam, has (Hide-and-Seek), cutmix, adl, acol, tscam, scm,
  sat;
- `videos/`: cam, has (Hide-and-Seek's frame segments), cola (CoLA's
  network and snippet contrast), aicl (AICL's network and contrast of
  consistent and inconsistent snippets), delu (DELU's network and
  evidential objective); hiding composes with each.

A method of your own: a module that calls `register(Method(...))`, named
with `--plugins=<module>` (docs/adding_a_method.md). Plain Python: no
TensorFlow on import.
"""

from has_tf.methods import registry
from has_tf.methods.base import Method
from has_tf.methods.base import Option
from has_tf.methods.images import acol as _images_acol  # noqa: F401
from has_tf.methods.images import adl as _images_adl  # noqa: F401
from has_tf.methods.images import cam as _images_cam  # noqa: F401
from has_tf.methods.images import cutmix as _images_cutmix  # noqa: F401
from has_tf.methods.images import has as _images_has  # noqa: F401
from has_tf.methods.images import sat as _images_sat  # noqa: F401
from has_tf.methods.images import scm as _images_scm  # noqa: F401
from has_tf.methods.images import tscam as _images_tscam  # noqa: F401
from has_tf.methods.registry import get
from has_tf.methods.registry import load_plugins
from has_tf.methods.registry import methods
from has_tf.methods.registry import names
from has_tf.methods.registry import options
from has_tf.methods.registry import plugins
from has_tf.methods.registry import register
from has_tf.methods.registry import resolve
from has_tf.methods.videos import aicl as _videos_aicl  # noqa: F401
from has_tf.methods.videos import cam as _videos_cam  # noqa: F401
from has_tf.methods.videos import cola as _videos_cola  # noqa: F401
from has_tf.methods.videos import delu as _videos_delu  # noqa: F401
from has_tf.methods.videos import has as _videos_has  # noqa: F401

__all__ = [
    "Method",
    "Option",
    "get",
    "load_plugins",
    "methods",
    "names",
    "options",
    "plugins",
    "register",
    "registry",
    "resolve",
]
