"""Draws synthetic feature sequences with action spans (NumPy only).

The temporal twin of `synthetic_parts`. A video is a `[T, D]` sequence of
snippet features at `FEATURE_RATE` snippets per second. Background steps
are noise around a slowly drifting, label-free vector. Each video holds
one to three instances of its class's action. Inside an instance:

- every step carries a weak class direction (about twice the noise's
  standard deviation along it): informative, but it takes several steps
  to stand out from the noise;
- one short sub-span (`KEY_STEPS` steps) carries a strong class direction
  instead (six times the noise): the most discriminative part, enough
  alone to classify the video.

So a classifier trained on the video label alone can rely on the short
sub-span, and its temporal CAM peaks there; hiding segments during
training removes the key sub-span from some training videos, which forces
the classifier to use the weak evidence spread over the whole instance.
Distractor bursts (strong, label-free directions) appear in the
background.
"""

from __future__ import annotations

import numpy as np

FEATURE_RATE = 2.0  # Snippets per second.
FEATURE_DIM = 32
# Per-step amplitudes (noise has std 1 per dimension).
WEAK_AMPLITUDE = 3.0
KEY_AMPLITUDE = 6.0
DRIFT = 0.02
# Neighbouring snippets share content (as real snippet features, whose
# windows overlap): the noise is AR(1) with this correlation, unit std.
NOISE_CORRELATION = 0.95
KEY_STEPS = 4


def class_directions(num_classes: int, dim: int = FEATURE_DIM):
    """Unit weak and key directions per class: float32 `[N, D]` twice.

    Fixed (seeded by the shapes only), so every split shares them.
    """
    rng = np.random.default_rng([num_classes, dim, 7])
    weak = rng.normal(size=(num_classes, dim))
    key = rng.normal(size=(num_classes, dim))
    weak /= np.linalg.norm(weak, axis=1, keepdims=True)
    key /= np.linalg.norm(key, axis=1, keepdims=True)
    return weak.astype(np.float32), key.astype(np.float32)


def draw_video(
    label: int,
    num_classes: int,
    rng: np.random.Generator,
    length=(160, 320),
    dim: int = FEATURE_DIM,
):
    """One video's features and its action instances.

    Args:
      label: the video's class in [0, num_classes).
      num_classes: number of classes.
      rng: the video's own generator.
      length: (min, max) steps.
      dim: feature dimension D.

    Returns:
      `(features, segments)`: float32 `[T, D]`; a list of `(start_s, end_s)`
      in seconds (step t spans [t, t + 1) / FEATURE_RATE).
    """
    steps = int(rng.integers(length[0], length[1] + 1))
    weak, key = class_directions(num_classes, dim)
    drift = np.cumsum(rng.normal(0, DRIFT, (steps, dim)), axis=0)
    features = _correlated_noise(rng, steps, dim) + drift
    for _ in range(int(rng.integers(0, 3))):  # Label-free bursts.
        where = int(rng.integers(0, steps - KEY_STEPS))
        burst = rng.normal(size=dim)
        features[where : where + KEY_STEPS] += (
            KEY_AMPLITUDE * burst / np.linalg.norm(burst)
        )
    count = int(rng.integers(1, 4))
    # Non-overlapping instances: one per slot of equal length.
    slot = steps // count
    segments = []
    for index in range(count):
        span = int(
            rng.integers(
                max(KEY_STEPS * 4, slot // 4),
                max(KEY_STEPS * 4 + 1, slot * 3 // 4),
            )
        )
        span = min(span, slot - 2)
        start = index * slot + int(rng.integers(1, slot - span))
        features[start : start + span] += WEAK_AMPLITUDE * weak[label]
        # The key sub-span carries the key direction instead.
        key_at = start + int(rng.integers(0, span - KEY_STEPS + 1))
        features[key_at : key_at + KEY_STEPS] += (
            KEY_AMPLITUDE * key[label] - WEAK_AMPLITUDE * weak[label]
        )
        segments.append((start / FEATURE_RATE, (start + span) / FEATURE_RATE))
    return features.astype(np.float32), segments


def _correlated_noise(rng, steps, dim):
    """AR(1) noise over time, unit standard deviation per dimension."""
    rho = NOISE_CORRELATION
    shocks = rng.normal(0, np.sqrt(1 - rho**2), (steps, dim))
    noise = np.empty((steps, dim))
    noise[0] = rng.normal(0, 1, dim)
    for t in range(1, steps):
        noise[t] = rho * noise[t - 1] + shocks[t]
    return noise
