"""What the golden tests of the action methods' networks share
(tests/models/test_{cola,aicl,delu}.py)."""

import numpy as np


def close(ours, theirs, atol=1e-5):
    """`ours` equals the reference's `theirs` to `atol` x max(|theirs|, 1)."""
    theirs = np.asarray(theirs)
    scale = max(np.abs(theirs).max(), 1.0)
    np.testing.assert_allclose(
        np.asarray(ours), theirs, rtol=0, atol=atol * scale
    )


def mined_steps(mined, embeddings):
    """The step of each mined row `[B, k]` (each row equals one step's
    embedding of `[B, T, E]`)."""
    return np.array(
        [
            [
                np.flatnonzero((embeddings[b] == row).all(axis=1))[0]
                for row in rows
            ]
            for b, rows in enumerate(mined)
        ]
    )
