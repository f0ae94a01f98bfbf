"""The one-pass threshold sweep: a compiled union-find over sorted pixels.

The superlevel sets `{value >= t}` of a CAM only grow as the threshold t
falls, so their connected components can be built once for a whole grid
of thresholds: pixels are bucketed by the thresholds they reach and added
from the highest bucket down, each merged with its already-added
neighbours by a union-find that keeps every component's size, box, peak
value and first pixel in raster order. After each bucket the components
are read off: the largest (by pixel count; then the higher peak; then the
first in raster order, as `scipy.ndimage.label` numbers them) and, when
asked, every one.

A union-find runs pixel by pixel, so the kernel is compiled with numba
(the first call compiles it and caches the machine code beside this file).
NumPy and SciPy only otherwise; no TensorFlow.
"""

from __future__ import annotations

import threading

import numba
import numpy as np


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _find(parent, i):
    while parent[i] != i:
        parent[i] = parent[parent[i]]  # Path halving.
        i = parent[i]
    return i


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _better(a, b, info, peak):
    """Whether component root `a` beats root `b` for "largest"."""
    if info[a, 0] != info[b, 0]:
        return info[a, 0] > info[b, 0]
    if peak[a] != peak[b]:
        return peak[a] > peak[b]
    return info[a, 1] < info[b, 1]


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _sweep(
    values,
    thresholds,
    connectivity,
    want_all,
    work,
    info,
    peak,
    added,
    links_count,
    links,
    by_area,
):
    """Components of `{values >= t_j}` for every threshold, highest first.

    Args:
      values: float64 `[H, W]`.
      thresholds: float64 `[K]`, ascending.
      connectivity: 4 or 8.
      want_all: also list every component's box per threshold.
      work, info, peak, added: the workspace (`_workspace`).
      links_count, links: the link table of the connectivity
        (`_link_table`).
      by_area: "largest" is the component of the largest contour area
        (OpenCV's `contourArea` of its outer border: 2x2 pixel windows
        fully in it count 1, with three of four pixels 1/2), ties going to
        the component that starts last in raster order (wsolevaluation's
        `max(contours, key=cv2.contourArea)` over OpenCV's contour list);
        else the largest by pixel count, then peak, then first in raster
        order. Area mode lists live components as `want_all` does.

    Returns:
      largest: int64 `[K, 4]` box (ymin, xmin, ymax, xmax), ends exclusive,
        of the largest component at threshold j; -1 rows for an empty set.
      counts: int64 `[K]` components per threshold (0 unless `want_all`).
      boxes: int64 `[sum(counts), 4]`, threshold 0's boxes first, each
        threshold's in raster order of their first pixel.
    """
    height, width = values.shape
    num_levels = thresholds.shape[0]
    # A one-pixel frame that is never added spares the bounds checks; a
    # pixel is indexed in the framed grid, (r + 1) * stride + c + 1.
    stride = width + 2
    n = (height + 2) * stride
    # 8-neighbours in ring order (NW, N, NE, E, SE, S, SW, W): ring
    # neighbours are 8-adjacent to each other, so a run of added ones is
    # one component already and needs one link (`_LINKS_8`). 4-neighbours
    # are not adjacent to each other: each needs a link (`_LINKS_4`).
    if connectivity == 8:
        deltas = np.array(
            [
                -stride - 1,
                -stride,
                -stride + 1,
                1,
                stride + 1,
                stride,
                stride - 1,
                -1,
            ]
        )
    else:
        deltas = np.array([-stride, -1, 1, stride])
    # The per-pixel arrays come from a reused workspace (fresh ones cost
    # more in page faults than the sweep itself): rows of `work` hold the
    # parent, bucket, sort order, live list, live positions and window
    # counts; a root's row of `info` its size, first pixel (raster index),
    # box (ymin, xmin, ymax, xmax) and contour area in halves; `peak` its
    # largest value. Only `added` (and, by area, the window counts) needs
    # clearing; the rest is written when a pixel is added.
    parent = work[0]
    bucket = work[1]
    order = work[2]
    live = work[3]
    where = work[4]
    windows = work[5]  # Pixels of each 2x2 window added so far.
    added[:n] = False
    if by_area:
        windows[: max(height - 1, 0) * max(width - 1, 0)] = 0
    track_live = want_all or by_area
    # Bucket b holds the pixels reaching exactly b thresholds (binary
    # search); counting sort by bucket, raster order within one.
    starts = np.zeros(num_levels + 2, np.int64)
    # A guess from where the value falls between the first and last
    # threshold, corrected by a few steps: exact for any ascending grid,
    # one or two comparisons for a near-uniform one.
    low, high = thresholds[0], thresholds[num_levels - 1]
    scale = (num_levels - 1) / (high - low) if high > low else 0.0
    for r in range(height):
        for c in range(width):
            value = values[r, c]
            if value < low:
                j = 0
            elif value >= high:
                j = num_levels
            else:
                j = int((value - low) * scale) + 1
                j = min(max(j, 1), num_levels - 1)
                while j < num_levels and thresholds[j] <= value:
                    j += 1
                while j > 0 and thresholds[j - 1] > value:
                    j -= 1
            bucket[r * width + c] = j
            starts[j + 1] += 1
    for b in range(num_levels + 1):
        starts[b + 1] += starts[b]
    fill = starts.copy()
    # Pixels as (row << 16) | column: no division per pixel later.
    for r in range(height):
        for c in range(width):
            b = bucket[r * width + c]
            order[fill[b]] = (r << 16) | c
            fill[b] += 1
    num_live = 0

    largest = np.full((num_levels, 4), -1, np.int64)
    counts = np.zeros(num_levels, np.int64)
    capacity = 1024
    out = np.empty((capacity, 4), np.int64)
    total = 0
    best = -1
    # Boxes of threshold j come before those of j - 1; reordered at the end.
    level_start = np.zeros(num_levels + 1, np.int64)

    for level in range(num_levels - 1, -1, -1):
        lo, hi = starts[level + 1], starts[level + 2]
        for k in range(lo, hi):
            packed = order[k]
            r = packed >> 16
            c = packed & 0xFFFF
            i = r * width + c
            p = (r + 1) * stride + c + 1
            value = values[r, c]
            added[p] = True
            parent[p] = p
            # p joins its first neighbouring component directly (its own
            # fields are written only if it stays a root); later links are
            # unions of two components, by size.
            root = p
            # Which neighbours are added, as bits in ring order; the table
            # says which of them to link (one per run of adjacent ones).
            if connectivity == 8:
                up, down = p - stride, p + stride
                mask = (
                    np.int64(added[up - 1])
                    | np.int64(added[up]) << 1
                    | np.int64(added[up + 1]) << 2
                    | np.int64(added[p + 1]) << 3
                    | np.int64(added[down + 1]) << 4
                    | np.int64(added[down]) << 5
                    | np.int64(added[down - 1]) << 6
                    | np.int64(added[p - 1]) << 7
                )
            else:
                mask = (
                    np.int64(added[p - stride])
                    | np.int64(added[p - 1]) << 1
                    | np.int64(added[p + 1]) << 2
                    | np.int64(added[p + stride]) << 3
                )
            for j in range(links_count[mask]):
                q = p + deltas[links[mask, j]]
                other = q if parent[q] == q else _find(parent, q)
                if other == root:
                    continue
                if root == p:
                    parent[p] = other
                    info[other, 0] += 1
                    if value > peak[other]:
                        peak[other] = value
                    if i < info[other, 1]:
                        info[other, 1] = i
                    if r < info[other, 2]:
                        info[other, 2] = r
                    if c < info[other, 3]:
                        info[other, 3] = c
                    if r + 1 > info[other, 4]:
                        info[other, 4] = r + 1
                    if c + 1 > info[other, 5]:
                        info[other, 5] = c + 1
                    root = other
                    continue
                a, b = root, other
                if info[a, 0] < info[b, 0]:
                    a, b = b, a
                parent[b] = a
                info[a, 0] += info[b, 0]
                if peak[b] > peak[a]:
                    peak[a] = peak[b]
                if info[b, 1] < info[a, 1]:
                    info[a, 1] = info[b, 1]
                if info[b, 2] < info[a, 2]:
                    info[a, 2] = info[b, 2]
                if info[b, 3] < info[a, 3]:
                    info[a, 3] = info[b, 3]
                if info[b, 4] > info[a, 4]:
                    info[a, 4] = info[b, 4]
                if info[b, 5] > info[a, 5]:
                    info[a, 5] = info[b, 5]
                root = a
                info[a, 6] += info[b, 6]
                if track_live:
                    # Drop b from the live list (swap with the last).
                    j = where[b]
                    num_live -= 1
                    last = live[num_live]
                    live[j] = last
                    where[last] = j
            if root == p:  # A new component of one pixel.
                info[p, 0] = 1
                info[p, 6] = 0
                peak[p] = value
                info[p, 1] = i
                info[p, 2], info[p, 3], info[p, 4], info[p, 5] = (
                    r,
                    c,
                    r + 1,
                    c + 1,
                )
                if track_live:
                    live[num_live] = p
                    where[p] = num_live
                    num_live += 1
            if by_area:
                # The 2x2 windows holding p: at three pixels a window adds
                # half a unit of area to p's component, at four another
                # half (in halves: +1 each), all of its pixels being in
                # that component by then.
                for wr in range(max(r - 1, 0), min(r, height - 2) + 1):
                    for wc in range(max(c - 1, 0), min(c, width - 2) + 1):
                        w = wr * (width - 1) + wc
                        windows[w] += 1
                        if windows[w] >= 3:
                            info[root, 6] += 1
                continue
            # Components only grow, so the largest is the previous one's
            # component or one that gained a pixel in this bucket.
            if best >= 0 and parent[best] != best:
                best = _find(parent, best)
            if best < 0 or (root != best and _better(root, best, info, peak)):
                best = root
        if by_area:
            # Contour areas can tie while a component's start moves, so
            # the live components are compared afresh at every threshold.
            best = -1
            for j in range(num_live):
                a = live[j]
                if best < 0 or (
                    info[a, 6] > info[best, 6]
                    or (
                        info[a, 6] == info[best, 6]
                        and info[a, 1] > info[best, 1]
                    )
                ):
                    best = a
        if best >= 0:
            largest[level, 0] = info[best, 2]
            largest[level, 1] = info[best, 3]
            largest[level, 2] = info[best, 4]
            largest[level, 3] = info[best, 5]
        if want_all:
            counts[level] = num_live
            if total + num_live > capacity:
                while total + num_live > capacity:
                    capacity *= 2
                grown = np.empty((capacity, 4), np.int64)
                grown[:total] = out[:total]
                out = grown
            # Keep the live list in raster order of first pixels: an
            # insertion sort, cheap on the nearly sorted list that the
            # previous threshold left (no allocation per threshold).
            for j in range(1, num_live):
                a = live[j]
                key = info[a, 1]
                k = j - 1
                while k >= 0 and info[live[k], 1] > key:
                    live[k + 1] = live[k]
                    k -= 1
                live[k + 1] = a
            for j in range(num_live):
                a = live[j]
                where[a] = j
                out[total + j, 0] = info[a, 2]
                out[total + j, 1] = info[a, 3]
                out[total + j, 2] = info[a, 4]
                out[total + j, 3] = info[a, 5]
            level_start[level] = total
            total += num_live
    # Reorder the box list to ascending thresholds.
    boxes = np.empty((total, 4), np.int64)
    position = 0
    for level in range(num_levels):
        count = counts[level]
        start = level_start[level]
        boxes[position : position + count] = out[start : start + count]
        position += count
    return largest, counts, boxes


def _link_table(count: int, ring: bool):
    """For every neighbour mask, the neighbours to link to.

    Args:
      count: neighbours (8 in ring order, or 4).
      ring: neighbours next to each other in the ring are adjacent, so a
        run of set bits (cyclically) needs one link, at its first bit;
        otherwise every set bit needs one.

    Returns:
      `(counts int64 [2**count], positions int64 [2**count, count])`.
    """
    counts = np.zeros(2**count, np.int64)
    positions = np.zeros((2**count, count), np.int64)
    for mask in range(2**count):
        bits = [(mask >> j) & 1 for j in range(count)]
        if ring:
            chosen = [j for j in range(count) if bits[j] and not bits[j - 1]]
            if not chosen and mask:
                chosen = [0]  # Every neighbour added: one run, no start.
        else:
            chosen = [j for j in range(count) if bits[j]]
        counts[mask] = len(chosen)
        positions[mask, : len(chosen)] = chosen
    return counts, positions


@numba.njit(cache=True, nogil=True, error_model="numpy")
def outside_levels(levels):
    """The level at which each pixel joins the outside background.

    With foreground `{levels > l}`, the outside at l is the background
    4-connected to the image border (OpenCV's contours take the pixels
    beyond the border as background). A pixel joins it at the smallest l
    with a 4-path to the border whose levels are all <= l: the path's
    largest level, minimised. Computed by a flood from the border in
    increasing level (a bucket queue over 0..255).

    Args:
      levels: uint8 `[H, W]`.

    Returns:
      int64 `[H, W]`: `{result > l}` is the foreground at l with its holes
      (and what they enclose) filled.
    """
    height, width = levels.shape
    n = height * width
    result = np.full(n, 256, np.int64)
    capacity = 5 * n + 1
    item = np.empty(capacity, np.int64)
    link = np.empty(capacity, np.int64)
    head = np.full(256, -1, np.int64)
    used = 0
    for r in range(height):
        for c in range(width):
            if r == 0 or c == 0 or r == height - 1 or c == width - 1:
                b = levels[r, c]
                item[used] = r * width + c
                link[used] = head[b]
                head[b] = used
                used += 1
    for level in range(256):
        while head[level] >= 0:
            k = head[level]
            head[level] = link[k]
            p = item[k]
            if result[p] <= level:
                continue
            result[p] = level
            r = p // width
            c = p - r * width
            for dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1)):
                rr, cc = r + dr, c + dc
                if rr < 0 or rr >= height or cc < 0 or cc >= width:
                    continue
                q = rr * width + cc
                if result[q] <= level:
                    continue
                b = max(level, np.int64(levels[rr, cc]))
                if b >= result[q]:
                    continue
                item[used] = q
                link[used] = head[b]
                head[b] = used
                used += 1
    return result.reshape(height, width)


_LINKS_8 = _link_table(8, ring=True)
_LINKS_4 = _link_table(4, ring=False)
_LOCAL = threading.local()


def _workspace(n: int):
    """This thread's scratch arrays for `n` framed pixels, reused."""
    cached = getattr(_LOCAL, "arrays", None)
    if cached is None or cached[0].shape[1] < n:
        cached = (
            np.empty((6, n), np.int32),
            np.empty((n, 8), np.int32),
            np.empty(n, np.float64),
            np.empty(n, np.bool_),
        )
        _LOCAL.arrays = cached
    return cached


def sweep(
    values: np.ndarray,
    thresholds: np.ndarray,
    connectivity: int,
    want_all: bool,
    by_area: bool = False,
):
    """Runs the kernel for thresholds in any order.

    Args:
      values: float64 `[H, W]` normalised CAM.
      thresholds: float64 `[K]`, any order, duplicates allowed.
      connectivity: 4 or 8.
      want_all: also every component's box.
      by_area: pick "largest" by contour area (see `_sweep`).

    Returns:
      `(largest, counts, boxes)` in the order of `thresholds`: float64
      `[K, 4]` pixel boxes (NaN rows where no pixel reaches the
      threshold), int64 `[K]` and float64 `[sum(counts), 4]` (threshold
      0's boxes first, each threshold's in raster order of their first
      pixel).
    """
    if max(values.shape) > 0xFFFF:
        raise ValueError(
            "Expected a CAM of at most 65535 x 65535 pixels. Received: "
            f"cam.shape={values.shape}"
        )
    if np.all(thresholds[1:] >= thresholds[:-1]):
        order = np.arange(len(thresholds))
    else:
        order = np.argsort(thresholds, kind="stable")
    ascending = np.ascontiguousarray(thresholds[order], np.float64)
    values = np.ascontiguousarray(values, np.float64)
    work, info, peak, added = _workspace(
        (values.shape[0] + 2) * (values.shape[1] + 2)
    )
    largest_sorted, counts_sorted, boxes_sorted = _sweep(
        values,
        ascending,
        connectivity,
        want_all,
        work,
        info,
        peak,
        added,
        *(_LINKS_8 if connectivity == 8 else _LINKS_4),
        by_area,
    )
    largest = np.empty((len(thresholds), 4), np.float64)
    largest[order] = largest_sorted
    largest[largest[:, 0] < 0] = np.nan
    counts = np.empty(len(thresholds), np.int64)
    counts[order] = counts_sorted
    if not want_all:
        return largest, counts, np.zeros((0, 4))
    if np.array_equal(order, np.arange(len(order))):
        return largest, counts, boxes_sorted.astype(np.float64)
    # Boxes come in ascending-threshold order; put them in input order.
    starts = np.concatenate([[0], np.cumsum(counts_sorted)])
    pieces = [None] * len(thresholds)
    for rank, index in enumerate(order):
        pieces[index] = boxes_sorted[starts[rank] : starts[rank + 1]]
    boxes = np.concatenate(pieces).astype(np.float64)
    return largest, counts, boxes
