"""crosstrain: TensorFlow or PyTorch, for this task? The same model, trained fairly in both."""

__version__ = "0.1.0"
