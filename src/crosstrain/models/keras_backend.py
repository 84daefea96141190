"""Import this before `keras`: Keras 3 picks its backend once, when it is first imported.

    import crosstrain.models.keras_backend  # noqa: F401  (sets KERAS_BACKEND)

    # isort: split
    import keras

crosstrain's TensorFlow path means Keras' TensorFlow backend. Importing this module loads neither
Keras nor TensorFlow; `crosstrain.models.tf` imports it first.
"""

import os

os.environ["KERAS_BACKEND"] = "tensorflow"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep oneDNN/CPU-feature banners out of the CLI
