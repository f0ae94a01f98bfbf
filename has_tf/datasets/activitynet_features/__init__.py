"""The `activitynet_features` TFDS dataset."""

from has_tf.datasets.activitynet_features.activitynet_features_dataset_builder import (  # noqa: E501
    ActivitynetFeatures,
)
from has_tf.datasets.activitynet_features.activitynet_features_dataset_builder import (  # noqa: E501
    ActivitynetFeaturesConfig,
)

__all__ = ["ActivitynetFeatures", "ActivitynetFeaturesConfig"]
