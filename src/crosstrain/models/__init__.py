"""Models: one framework-neutral spec (`spec.py`), built side by side by `tf.py` and `torch.py`.

Import `crosstrain.models.tf` or `crosstrain.models.torch` only where that framework is wanted:
a PyTorch run never loads TensorFlow, and vice versa.
"""
