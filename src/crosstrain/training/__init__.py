"""Training: one framework-neutral epoch driver (`loop.py`) and a train step per framework.

`tf.py` and `torch.py` expose the same names (`configure`, `make_train_step`); `step.py` picks
one by the `Framework` value and never imports the other.
"""
