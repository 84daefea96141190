"""Import this before `keras`: Keras 3 picks its backend once, when it is first imported.

    import crosstrain.models.keras_backend  # noqa: F401  (sets KERAS_BACKEND)

    # isort: split
    import keras

crosstrain's TensorFlow path means Keras' TensorFlow backend. Importing this module loads neither
Keras nor TensorFlow; `crosstrain.models.tf` imports it first. It also imports `crosstrain.quiet`, so
TensorFlow's start-up lines stay out of crosstrain's output however TensorFlow comes to be imported.
"""

import os

import crosstrain.quiet  # noqa: F401  (TensorFlow's log level and start-up lines; see that module)

os.environ["KERAS_BACKEND"] = "tensorflow"
