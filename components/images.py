"""The default image of each component: `<registry>/crosstrain-<kind>:<version>` from params' defaults.

The pipeline replaces these with `cluster.images` (registry, tag) through `set_container_image`.
"""

from crosstrain.config.cluster import ImagesConfig

BASE_IMAGE = ImagesConfig().image("base")
TENSORFLOW_IMAGE = ImagesConfig().image("tensorflow")
PYTORCH_IMAGE = ImagesConfig().image("pytorch")
