"""THUMOS14 and ActivityNet-style files of temporal detections (no TF).

The THUMOS14 annotation files (ground truth) are read by the dataset,
`has_tf.datasets.thumos14_features.annotations`.

Rows follow `has_tf.metrics.segments`: detections `(video, start_s, end_s,
class_index, score)`, ground truth `(video, start_s, end_s, class_index)`,
with `class_index` in 0..19, the order of `THUMOS14_CLASSES`.

Formats:

- THUMOS14 detection text (the evaluation kit's input): one detection per
  line, "video start end class-id score", class-id the class's id in the
  101-class UCF101 list (`THUMOS14_IDS`, e.g. 7 for BaseballPitch).
- ActivityNet-style JSON: `{"version": ..., "results": {video: [{"label":
  class name, "score": s, "segment": [start, end]}, ...]}, "external_data":
  {}}`.
"""

from __future__ import annotations

import json
import math

# The 20 THUMOS14 detection classes and their ids in the 101-class list.
THUMOS14_CLASSES = (
    "BaseballPitch",
    "BasketballDunk",
    "Billiards",
    "CleanAndJerk",
    "CliffDiving",
    "CricketBowling",
    "CricketShot",
    "Diving",
    "FrisbeeCatch",
    "GolfSwing",
    "HammerThrow",
    "HighJump",
    "JavelinThrow",
    "LongJump",
    "PoleVault",
    "Shotput",
    "SoccerPenalty",
    "TennisSwing",
    "ThrowDiscus",
    "VolleyballSpiking",
)
THUMOS14_IDS = (
    7,
    9,
    12,
    21,
    22,
    23,
    24,
    26,
    31,
    33,
    36,
    40,
    45,
    51,
    68,
    79,
    85,
    92,
    93,
    97,
)
# The 101 classes of THUMOS14's validation and test videos (UCF101's), in
# the order of their ids (id = index + 1), as the official meta files
# (validation_set.mat, test_set_meta.mat: primary_action_index) number them.
# A Python sort differs (it puts HammerThrow before Hammering).
UCF101_CLASSES = (
    "ApplyEyeMakeup",
    "ApplyLipstick",
    "Archery",
    "BabyCrawling",
    "BalanceBeam",
    "BandMarching",
    "BaseballPitch",
    "Basketball",
    "BasketballDunk",
    "BenchPress",
    "Biking",
    "Billiards",
    "BlowDryHair",
    "BlowingCandles",
    "BodyWeightSquats",
    "Bowling",
    "BoxingPunchingBag",
    "BoxingSpeedBag",
    "BreastStroke",
    "BrushingTeeth",
    "CleanAndJerk",
    "CliffDiving",
    "CricketBowling",
    "CricketShot",
    "CuttingInKitchen",
    "Diving",
    "Drumming",
    "Fencing",
    "FieldHockeyPenalty",
    "FloorGymnastics",
    "FrisbeeCatch",
    "FrontCrawl",
    "GolfSwing",
    "Haircut",
    "Hammering",
    "HammerThrow",
    "HandstandPushups",
    "HandstandWalking",
    "HeadMassage",
    "HighJump",
    "HorseRace",
    "HorseRiding",
    "HulaHoop",
    "IceDancing",
    "JavelinThrow",
    "JugglingBalls",
    "JumpingJack",
    "JumpRope",
    "Kayaking",
    "Knitting",
    "LongJump",
    "Lunges",
    "MilitaryParade",
    "Mixing",
    "MoppingFloor",
    "Nunchucks",
    "ParallelBars",
    "PizzaTossing",
    "PlayingCello",
    "PlayingDaf",
    "PlayingDhol",
    "PlayingFlute",
    "PlayingGuitar",
    "PlayingPiano",
    "PlayingSitar",
    "PlayingTabla",
    "PlayingViolin",
    "PoleVault",
    "PommelHorse",
    "PullUps",
    "Punch",
    "PushUps",
    "Rafting",
    "RockClimbingIndoor",
    "RopeClimbing",
    "Rowing",
    "SalsaSpin",
    "ShavingBeard",
    "Shotput",
    "SkateBoarding",
    "Skiing",
    "Skijet",
    "SkyDiving",
    "SoccerJuggling",
    "SoccerPenalty",
    "StillRings",
    "SumoWrestling",
    "Surfing",
    "Swing",
    "TableTennisShot",
    "TaiChi",
    "TennisSwing",
    "ThrowDiscus",
    "TrampolineJumping",
    "Typing",
    "UnevenBars",
    "VolleyballSpiking",
    "WalkingWithDog",
    "WallPushups",
    "WritingOnBoard",
    "YoYo",
)
_ID_OF_NAME = {name: index + 1 for index, name in enumerate(UCF101_CLASSES)}
_INDEX_OF_ID = {id_: index for index, id_ in enumerate(THUMOS14_IDS)}
_INDEX_OF_NAME = {name: index for index, name in enumerate(THUMOS14_CLASSES)}

__all__ = [
    "read_activitynet_ground_truth",
    "THUMOS14_CLASSES",
    "THUMOS14_IDS",
    "UCF101_CLASSES",
    "id_of_class_name",
    "class_index_of_id",
    "id_of_class_index",
    "read_thumos_detections",
    "write_thumos_detections",
    "parse_rows",
    "read_activitynet_json",
    "write_activitynet_json",
]


def class_index_of_id(class_id: int) -> int:
    """The 0..19 index of a THUMOS14 class from its 101-list id."""
    try:
        return _INDEX_OF_ID[int(class_id)]
    except KeyError:
        raise ValueError(
            "Expected a THUMOS14 detection class id, one of "
            f"{THUMOS14_IDS}. Received: class_id={class_id!r}"
        ) from None


def id_of_class_index(index: int) -> int:
    """The 101-list id of the 0..19 class index."""
    if not 0 <= int(index) < len(THUMOS14_IDS):
        raise ValueError(
            f"Expected a class index in [0, 20). Received: index={index!r}"
        )
    return THUMOS14_IDS[int(index)]


def id_of_class_name(name: str) -> int:
    """The 101-list id of a class name (`UCF101_CLASSES`, e.g. 7)."""
    try:
        return _ID_OF_NAME[name]
    except KeyError:
        raise ValueError(
            f"Expected a THUMOS14 (UCF101) class name. Received: name={name!r}"
        ) from None


def write_thumos_detections(
    path: str, detections, class_names=THUMOS14_CLASSES
) -> str:
    """Writes detection rows as the kit's text lines; returns `path`.

    `class_index` indexes `class_names` (the 20 detection classes, or the
    101 of `UCF101_CLASSES` for a 101-class model); the line holds its id.
    """
    ids = [id_of_class_name(name) for name in class_names]
    with open(path, "w") as f:
        for video, start, end, index, score in detections:
            f.write(
                f"{video} {float(start):.2f} {float(end):.2f} "
                f"{ids[int(index)]} {float(score):.6f}\n"
            )
    return path


def _numbers(values, where: str, form: str) -> tuple:
    """`values` as finite floats, or a ValueError naming `where`."""
    try:
        numbers = tuple(float(v) for v in values)
    except (TypeError, ValueError):
        numbers = (float("nan"),)
    if not all(math.isfinite(n) for n in numbers):
        raise ValueError(
            f"{where}: expected {form} (finite numbers). Received: "
            f"{list(values)!r}"
        )
    return numbers


def _segment(values, where: str, form: str) -> tuple:
    """`(start, end)` seconds, finite, start <= end, or a ValueError
    naming `where`."""
    if isinstance(values, (str, bytes)) or not hasattr(values, "__len__"):
        values = [values]
    if len(values) != 2:
        raise ValueError(
            f"{where}: expected {form} with a [start, end] segment. "
            f"Received: {values!r}"
        )
    start, end = _numbers(values, where, form)
    if start > end:
        raise ValueError(
            f"{where}: expected start <= end. Received: [{start}, {end}]"
        )
    return start, end


def read_thumos_detections(path: str) -> list:
    """Reads the kit's detection lines into rows (class ids -> 0..19).

    Raises:
      ValueError: a malformed line, naming `path:line`: not five fields,
        times or score not finite numbers, start > end, a class id that is
        not a whole number or not one of THUMOS14's 20.
    """
    rows = []
    with open(path) as f:
        text = f.read()
    form = "video start end class-id score"
    for number, fields in parse_rows(text, path, 5, form, exact=True):
        video, start, end, class_id, score = fields
        where = f"{path}:{number}"
        start, end = _segment((start, end), where, f"'{form}'")
        (score,) = _numbers((score,), where, f"'{form}'")
        try:
            whole = float(class_id)
        except ValueError:
            whole = float("nan")
        if not whole.is_integer():
            raise ValueError(
                f"{where}: expected a whole class id (the kit's "
                f"1-101). Received: {class_id!r}"
            )
        try:
            index = class_index_of_id(int(whole))
        except ValueError as error:
            raise ValueError(f"{where}: {error}") from None
        rows.append((video, start, end, index, score))
    return rows


def parse_rows(
    text: str, source: str, count: int, form: str, exact: bool = False
):
    """Yields `(line number, fields)` of each non-blank line of `text`.

    Args:
      text: whitespace-separated rows.
      source: the file's name, for error messages.
      count: fields a row needs at least (exactly, if `exact`).
      form: the expected row, for error messages (e.g. "video start end").

    Raises:
      ValueError: a short (or, with `exact`, long) row, naming
        `source:line`.
    """
    for number, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) < count or (exact and len(fields) != count):
            raise ValueError(
                f"{source}:{number}: expected '{form}'. "
                f"Received: {line.strip()!r}"
            )
        yield number, fields


def write_activitynet_json(
    path: str,
    detections,
    class_names=THUMOS14_CLASSES,
    version: str = "THUMOS14",
) -> str:
    """Writes detection rows as ActivityNet-style JSON; returns `path`."""
    results = {}
    for video, start, end, index, score in detections:
        results.setdefault(str(video), []).append(
            {
                "label": class_names[int(index)],
                "score": float(score),
                "segment": [float(start), float(end)],
            }
        )
    with open(path, "w") as f:
        json.dump(
            {"version": version, "results": results, "external_data": {}},
            f,
            indent=1,
        )
    return path


_DETECTION = "{'label': name, 'score': number, 'segment': [start, end]}"


def read_activitynet_json(path: str, class_names=THUMOS14_CLASSES) -> list:
    """Reads ActivityNet-style JSON results into detection rows, video by
    video in the file's order, as ActivityNet's evaluator reads them (the
    order that decides how it ranks tied scores).

    Raises:
      ValueError: not `{"results": {video: [detection, ...]}}`, or a
        detection that is not `_DETECTION` with finite numbers and start <=
        end, or of an unknown label (naming the file, video and detection).
    """
    index_of = {name: index for index, name in enumerate(class_names)}
    with open(path) as f:
        try:
            data = json.load(f)
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}: not JSON ({error}).") from None
    results = data.get("results") if isinstance(data, dict) else None
    if not isinstance(results, dict):
        raise ValueError(
            f"{path}: expected ActivityNet results, a JSON object with "
            f"'results': {{video: [detections]}}. Received: {_kind(data)}"
            + (
                f", 'results' {_kind(results)}"
                if isinstance(data, dict)
                else ""
            )
        )
    rows = []
    for video, items in results.items():
        if not isinstance(items, list):
            raise ValueError(
                f"{path}: video {video!r}: expected a list of detections. "
                f"Received: {_kind(items)}"
            )
        for number, item in enumerate(items):
            where = f"{path}: video {video!r} detection {number}"
            if not isinstance(item, dict) or not {
                "label",
                "score",
                "segment",
            } <= set(item):
                raise ValueError(
                    f"{where}: expected {_DETECTION}. Received: {item!r}"
                )
            if item["label"] not in index_of:
                raise ValueError(
                    f"{where}: unknown label {item['label']!r}; expected one "
                    f"of {list(class_names)}"
                )
            start, end = _segment(item["segment"], where, _DETECTION)
            (score,) = _numbers((item["score"],), where, _DETECTION)
            rows.append((video, start, end, index_of[item["label"]], score))
    return rows


def _kind(data) -> str:
    if isinstance(data, dict):
        return f"keys {sorted(data)[:5]}"
    return type(data).__name__


def read_activitynet_ground_truth(path: str, subset: str = "validation"):
    """Reads an ActivityNet-style ground-truth JSON (`{"database": {video:
    {"subset": ..., "annotations": [{"segment": [start, end], "label":
    name}, ...]}}}`, ActivityNet 1.2/1.3 and the THUMOS14 conversions
    many repositories ship).

    Args:
      path: the JSON file.
      subset: the videos whose `subset` is this ("validation", "testing",
        ...); "" takes every video.

    Returns:
      `(rows, class_names)`: ground-truth rows `(video, start_s, end_s,
      class_index)` and the class names in the order the official
      evaluator numbers them (first appearance).

    Raises:
      ValueError: no "database", a malformed annotation (naming the video)
        or no video of `subset`.
    """
    with open(path) as f:
        data = json.load(f)
    if not isinstance(data, dict) or "database" not in data:
        raise ValueError(
            f"{path}: expected ActivityNet ground truth, a JSON object with "
            f"a 'database'. Received: {_kind(data)}"
        )
    if not isinstance(data["database"], dict):
        raise ValueError(
            f"{path}: expected 'database' to map videos to their entries. "
            f"Received: {_kind(data['database'])}"
        )
    rows, names = [], {}
    form = "{'segment': [start, end], 'label': name}"
    for video, entry in data["database"].items():
        annotations = (
            entry.get("annotations", []) if isinstance(entry, dict) else None
        )
        if not isinstance(annotations, list):
            raise ValueError(
                f"{path}: video {video!r}: expected {{'subset': ..., "
                f"'annotations': [...]}}. Received: {entry!r}"[:300]
            )
        if subset and entry.get("subset") != subset:
            continue
        for number, ann in enumerate(annotations):
            where = f"{path}: video {video!r} annotation {number}"
            if not isinstance(ann, dict) or not {"segment", "label"} <= set(
                ann
            ):
                raise ValueError(f"{where}: expected {form}. Received: {ann!r}")
            start, end = _segment(ann["segment"], where, form)
            label = ann["label"]
            index = names.setdefault(label, len(names))
            rows.append((video, start, end, index))
    if not rows:
        raise ValueError(
            f"{path}: no annotated video of subset {subset!r} (pass the "
            "subset the file uses, or an empty one for all)."
        )
    return rows, tuple(names)
