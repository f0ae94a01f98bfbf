"""The `thumos14_features` TFDS dataset."""

from has_tf.datasets.thumos14_features.thumos14_features_dataset_builder import (  # noqa: E501
    TEST_LISTS,
)
from has_tf.datasets.thumos14_features.thumos14_features_dataset_builder import (  # noqa: E501
    Thumos14Features,
)
from has_tf.datasets.thumos14_features.thumos14_features_dataset_builder import (  # noqa: E501
    Thumos14FeaturesConfig,
)
from has_tf.datasets.thumos14_features.thumos14_features_dataset_builder import (  # noqa: E501
    excluded_videos,
)
from has_tf.datasets.thumos14_features.thumos14_features_dataset_builder import (  # noqa: E501
    keep_video,
)

__all__ = [
    "TEST_LISTS",
    "Thumos14Features",
    "Thumos14FeaturesConfig",
    "excluded_videos",
    "keep_video",
]
