"""float64 NumPy transcriptions of RepDistiller's feature losses
(``distiller_zoo/FitNet.py``, ``AT.py``, ``SP.py``, ``PKT.py``), in the
official NCHW layout and argument order ``(student, teacher)``, written from
the official code independently of keras_mixkd's implementation."""

import numpy as np


def nchw(x):
    """NHWC (keras_mixkd's layout) to NCHW (the official code's)."""
    return np.transpose(x, (0, 3, 1, 2)) if x.ndim == 4 else x


def adaptive_avg_pool2d(f, size):
    """``F.adaptive_avg_pool2d(f, (size, size))`` on an NCHW array."""
    batch, channels, height, width = f.shape
    out = np.zeros((batch, channels, size, size))
    for i in range(size):
        h0, h1 = (i * height) // size, -(-((i + 1) * height) // size)
        for j in range(size):
            w0, w1 = (j * width) // size, -(-((j + 1) * width) // size)
            out[:, :, i, j] = f[:, :, h0:h1, w0:w1].mean(axis=(2, 3))
    return out


def normalize(x, eps=1e-12):
    """``F.normalize(x)``: rows divided by ``max(||row||_2, eps)``."""
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), eps)


def hint(f_s, f_t):
    """``HintLoss``: ``nn.MSELoss()(f_s, f_t)``."""
    return np.mean((f_s - f_t) ** 2)


def attention(f_s, f_t, p=2):
    """``Attention.at_loss`` for one NCHW pair."""
    s_h, t_h = f_s.shape[2], f_t.shape[2]
    if s_h > t_h:
        f_s = adaptive_avg_pool2d(f_s, t_h)
    elif s_h < t_h:
        f_t = adaptive_avg_pool2d(f_t, s_h)

    def at(f):
        return normalize((f ** p).mean(1).reshape(f.shape[0], -1))

    return np.mean((at(f_s) - at(f_t)) ** 2)


def similarity(f_s, f_t):
    """``Similarity.similarity_loss`` for one pair."""
    bsz = f_s.shape[0]
    f_s = f_s.reshape(bsz, -1)
    f_t = f_t.reshape(bsz, -1)
    g_s = normalize(f_s @ f_s.T)
    g_t = normalize(f_t @ f_t.T)
    return np.sum((g_t - g_s) ** 2) / (bsz * bsz)


def pkt(output_net, target_net, eps=1e-7):
    """``PKT.cosine_similarity_loss`` (features flattened per sample)."""
    output_net = output_net.reshape(output_net.shape[0], -1)
    target_net = target_net.reshape(target_net.shape[0], -1)
    output_net = output_net / (
        np.sqrt(np.sum(output_net ** 2, axis=1, keepdims=True)) + eps)
    output_net[np.isnan(output_net)] = 0
    target_net = target_net / (
        np.sqrt(np.sum(target_net ** 2, axis=1, keepdims=True)) + eps)
    target_net[np.isnan(target_net)] = 0
    model_similarity = (output_net @ output_net.T + 1.0) / 2.0
    target_similarity = (target_net @ target_net.T + 1.0) / 2.0
    model_similarity = model_similarity / np.sum(
        model_similarity, axis=1, keepdims=True)
    target_similarity = target_similarity / np.sum(
        target_similarity, axis=1, keepdims=True)
    return np.mean(target_similarity * np.log(
        (target_similarity + eps) / (model_similarity + eps)))
