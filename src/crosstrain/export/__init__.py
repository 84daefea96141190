"""ONNX export of trained models: `tf.py` and `torch.py` hold the framework code, `step.py` the rest."""
