"""Classification metrics on numpy logits, shared by training (validation curves) and evaluation.

Computing them once, outside either framework, means a metric cannot differ between TensorFlow
and PyTorch because of how each library happens to define it.
"""

from __future__ import annotations

import numpy as np


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax in float64, stable for large logits."""
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def cross_entropy(logits: np.ndarray, y: np.ndarray) -> float:
    """Mean negative log-likelihood of the true classes."""
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=1, keepdims=True)
    log_probs = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return float(-log_probs[np.arange(len(y)), y].mean())


def accuracy(logits: np.ndarray, y: np.ndarray) -> float:
    """Fraction of examples whose arg-max logit is the true class."""
    return float((np.argmax(logits, axis=1) == y).mean())


def confusion(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """Counts[i, j]: examples of true class i predicted as j."""
    matrix = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(matrix, (y_true, y_pred), 1)
    return matrix


def macro_f1(matrix: np.ndarray) -> float:
    """Unweighted mean of per-class F1 from a confusion matrix (a class never seen nor predicted scores 0)."""
    tp = np.diag(matrix).astype(np.float64)
    predicted = matrix.sum(axis=0)
    actual = matrix.sum(axis=1)
    denominator = predicted + actual
    f1 = np.divide(2 * tp, denominator, out=np.zeros_like(tp), where=denominator > 0)
    return float(f1.mean())


def percentiles_ms(seconds: list[float], qs: tuple[float, ...] = (50, 95)) -> list[float]:
    """Percentiles of durations, in milliseconds."""
    return [float(np.percentile(np.asarray(seconds) * 1000.0, q)) for q in qs]
