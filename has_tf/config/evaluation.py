"""`EvalConfig` (what `has_tf.evaluate` scores) and `CamsConfig` (what
`has_tf.evaluate_cams` scores), the flags they share declared once."""

from __future__ import annotations

import dataclasses

from has_tf import vocabulary
from has_tf.config.fields import RunConfig
from has_tf.config.fields import check_fields
from has_tf.config.fields import fail
from has_tf.config.fields import option


def _box_protocol_option():
    """`--box_protocol`, shared by evaluate and evaluate_cams."""
    return option(
        "has_tf",
        "Threshold-free scoring rules (MaxBoxAcc, MaxBoxAccV2, PxAP): has_tf "
        "(the CAM in the evaluation frame, continuous boxes) or "
        "wsolevaluation (the official tool's: the CAM resized to 224 x 224 "
        "with OpenCV's bicubic rule and min-max normalised, the tool's "
        "integer boxes scaled from the image's size; has_tf.evaluate needs "
        "--eval_crop=resize for it).",
        choices=vocabulary.BOX_PROTOCOLS,
        task="images",
    )


def _iou_thresholds_option():
    """`--iou_thresholds`, shared by evaluate and evaluate_cams."""
    return option(
        (),
        "IoU thresholds of the scores: MaxBoxAccV2's (images; empty: 0.3, "
        "0.5, 0.7) or temporal mAP's (videos; empty: 0.1 to 0.7 by 0.1; "
        "ActivityNet's 0.5:0.05:0.95 is 0.5,0.55,...,0.95). Averages over "
        "0.1:0.5, 0.3:0.7, 0.1:0.7, 0.5:0.95 are reported where the grid "
        "holds them.",
        item=float,
        lower=0.0,
        upper=1.0,
        lower_open=True,
    )


def _workers_option():
    """`--workers`, shared by evaluate and evaluate_cams."""
    return option(
        0,
        "Processes scoring the CAMs' threshold-free box figures (MaxBoxAcc, "
        "V2, PxAP); 0: every core. Worker processes start only when the job "
        "is large enough to win back their start-up (evaluate: after 1,000 "
        "images; evaluate_cams: timed on the first CAMs). The figures do "
        "not depend on it.",
        lower=0,
        shapes_run=False,
        task="images",
    )


@dataclasses.dataclass
class EvalConfig(RunConfig):
    """How `has_tf.evaluate` scores a run (images and videos)."""

    def _check_checkpoint(self):
        select = self.checkpoint_select
        kind, _, value = select.partition(":")
        if self.checkpoint == "last":
            if select:
                fail(
                    "checkpoint_select",
                    "it says what --checkpoint=best chooses on; "
                    "--checkpoint=last scores model.keras.",
                    select,
                )
            return
        if kind not in ("ground_truth", "pseudo_boxes") or not value:
            fail(
                "checkpoint_select",
                "--checkpoint=best chooses on ground_truth:<split> or "
                "pseudo_boxes:<file>.",
                select,
            )
        if kind == "ground_truth" and value == self.eval_split:
            fail(
                "checkpoint_select",
                f"the split scored (--eval_split={self.eval_split}) cannot "
                "also choose the checkpoint.",
                select,
            )

    workers: int = _workers_option()
    eval_crop: str = option(
        "resize",
        "Evaluation crop (see input_pipeline.images): resize, center_crop "
        "or ten_crop, which averages the crops' class scores and merges "
        "their CAMs.",
        choices=vocabulary.EVAL_CROPS,
        task="images",
    )
    cam_threshold: float = option(
        0.2,
        "Fraction of the CAM's max for the paper's protocol (the "
        "paper: 0.2 AlexNet, 0.3 GoogLeNet).",
        lower=0.0,
        upper=1.0,
        task="images",
    )
    localization_map: str = option(
        "cam",
        "The map a class's box is drawn from, by every protocol: cam (its "
        "CAM, or its method's map) or pc1 (CAM Back Again's: the first "
        "principal component of the CAM head's feature map, each channel "
        "weighed by the class and min-max normalised; "
        "has_tf.postprocess.pc1). pc1 needs a model whose maps its CAM head "
        "makes, not a method's own layer (TS-CAM, SCM, SAT, ACoL).",
        choices=vocabulary.LOCALIZATION_MAPS,
        task="images",
    )
    classes_from: str | None = option(
        None,
        "Score Top-1 / Top-5 Loc and Clas with another classifier's "
        "classes: a .csv or .jsonl file of per-image classes "
        "(has_tf.metrics.class_files), or a run directory whose "
        "eval/predictions.csv scored this dataset and split; the boxes stay "
        "this run's (drawn from its maps of those classes). Every "
        "evaluation writes its own eval/predictions.csv.",
        task="images",
    )
    boxes_from: str | None = option(
        None,
        "Score against a pseudo-label file's boxes (python -m "
        "has_tf.pseudo_labels) in place of the split's ground truth: model "
        "selection without test boxes, as the WACV 2025 realistic protocol "
        "selects on the train split's pseudo-boxes (has_tf.search "
        "--select_on). --eval_split must be the file's split; masks (PxAP) "
        "are not scored.",
        task="images",
    )
    box_rule: str = option(
        "method",
        "How the paper protocol's box (Top-1 / Top-5 / GT-known Loc) is "
        "drawn from the map (has_tf.postprocess.box_rules): method (the "
        "run's method's own: cams_deit for TS-CAM and SCM, sat_evaluator "
        "for SAT, paper otherwise), paper (the CAM at the frame, >= "
        "threshold x max, the largest component, continuous boxes), "
        "cams_deit (TS-CAM's and SCM's lib/cams_deit.py: OpenCV bilinear "
        "resize, min-max, 8 bits, the largest contour, inclusive IoU, "
        "Top-k Loc at IoU > 0.5) or sat_evaluator (SAT's evaluator.py: "
        "min-max, bilinear resize, > threshold, the largest component, "
        "inclusive IoU). cams_deit and sat_evaluator read the CAM at the "
        "model's size: not with --eval_crop=ten_crop.",
        choices=vocabulary.BOX_RULE_CHOICES,
        task="images",
    )
    checkpoint: str = option(
        "last",
        "Which weights are scored: last (model.keras) or best (each "
        "checkpoint kept in backup/, train with --keep_checkpoints=0 to keep "
        "every one, scored on --checkpoint_select by --checkpoint_metric; the "
        "best, the first of equals, is scored on --eval_split). metrics.json "
        "records the choice and every checkpoint's figure.",
        choices=vocabulary.CHECKPOINTS,
    )
    checkpoint_select: str = option(
        "",
        "What --checkpoint=best chooses on: ground_truth:<split> (a split "
        "with boxes or segments, never the one scored) or "
        "pseudo_boxes:<file> (a pseudo-label file's split and boxes, the "
        "WACV 2025 realistic protocol).",
    )
    checkpoint_metric: str = option(
        "auto",
        "The figure --checkpoint=best chooses by; auto: max_box_acc_v2 "
        "(images), the first headline figure (videos).",
    )
    threshold_step: float = option(
        0.01,
        "Grid step of the threshold-free protocol.",
        lower=0.001,
        upper=1.0,
        task="images",
    )
    box_protocol: str = _box_protocol_option()
    samples_per_class: int = option(
        0,
        "Score at most this many images of each class (the first in the "
        "split's order; a class with fewer keeps all), as wsolevaluation's "
        "--num_val_sample_per_class trims its train-fullsup split (which "
        "samples at random, and fails on a class with fewer); 0: all.",
        lower=0,
        task="images",
    )
    iou_thresholds: tuple = _iou_thresholds_option()
    eval_batch_size: int = option(64, "Evaluation batch size.", lower=1)
    max_images: int = option(
        0, "Score only this many images or videos; 0: all.", lower=0
    )
    num_pictures: int = option(
        8, "Overlay pictures to write.", lower=0, task="images"
    )
    tcam_threshold: float = option(
        0.5,
        "Fraction of a class's T-CAM max kept as detections (the paper: 0.5).",
        lower=0.0,
        upper=1.0,
        task="videos",
    )
    class_threshold: float = option(
        0.1,
        "Classes whose video score reaches this are localized (else "
        "the top-1).",
        lower=0.0,
        upper=1.0,
        task="videos",
    )
    segment_score: str = option(
        "mean",
        "Detection score: mean T-CAM inside, or inside minus around.",
        choices=vocabulary.SEGMENT_SCORES,
        task="videos",
    )
    nms_iou: float = option(
        0.0,
        "Per-class temporal NMS at this IoU; 0: off.",
        lower=0.0,
        upper=1.0,
        task="videos",
    )
    postprocess: str = option(
        "has_paper",
        "T-CAM -> segments as a method's code does it "
        "(has_tf.postprocess.presets): has_paper (the rule of "
        "--tcam_threshold, --class_threshold, --segment_score, --nms_iou), "
        "stpn, wtalc, basnet, cola, co2, aicl or delu (their own "
        "thresholds).",
        choices=vocabulary.POSTPROCESS_PRESETS,
        task="videos",
    )
    test_list: str = option(
        "thumos14-test-210-v1",
        "THUMOS14: the named list of scored test videos (213/212/210).",
        task="videos",
    )
    num_plots: int = option(
        8, "Videos whose T-CAM plot to write.", lower=0, task="videos"
    )

    def __post_init__(self):
        super().__post_init__()
        self._check_checkpoint()
        if self.box_protocol == "wsolevaluation" and self.eval_crop != "resize":
            fail(
                "box_protocol",
                "the official tool scores the 224 x 224 resize of each "
                "image: use --eval_crop=resize (received "
                f"--eval_crop={self.eval_crop}).",
                self.box_protocol,
            )


@dataclasses.dataclass
class CamsConfig:
    """What `python -m has_tf.evaluate_cams` scores: CAMs from anywhere.

    Its threshold grid is `EvalConfig.threshold_step`'s flag, read only
    when given (otherwise each protocol's default grid).
    """

    cams_dir: str | None = option(
        None, "Folder of <image id>.npy CAMs.", task="images"
    )
    metadata_dir: str | None = option(
        None,
        "wsolevaluation-style metadata: image_ids.txt, class_labels.txt, "
        "image_sizes.txt, localization.txt.",
        task="images",
    )
    mask_dir: str | None = option(
        None,
        "Where localization.txt's mask paths start; default: metadata_dir.",
        task="images",
    )
    output_dir: str | None = option(
        None, "Where evaluate_cams writes metrics.json.", task="images"
    )
    box_protocol: str = _box_protocol_option()
    iou_thresholds: tuple = _iou_thresholds_option()
    connectivity: int = option(
        8,
        "Component connectivity (has_tf protocol; the official tool's is 8).",
        choices=vocabulary.CONNECTIVITIES,
        task="images",
    )
    workers: int = _workers_option()

    def __post_init__(self):
        if not self.iou_thresholds:  # The shared flag's "the usual grid".
            self.iou_thresholds = (0.3, 0.5, 0.7)
        check_fields(self)
        for name in ("cams_dir", "metadata_dir", "output_dir"):
            if not getattr(self, name):
                fail(name, "evaluate_cams needs it.", getattr(self, name))
