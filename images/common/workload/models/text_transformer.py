"""`text-transformer`, a small pre-norm transformer encoder for text classification (AG News's
4 classes), and its shared initial weights.

Token ids (N, 64), 0 = padding -> token embedding + learned position embedding (d 128) ->
LAYERS x [x + MHA(LN(x)) with a key-padding mask, then x + MLP(LN(x)) with exact (erf) GELU]
-> final LN -> mean over the non-padding tokens -> Dense(4). No dropout anywhere: randomness
would break identical work. LayerNorm's epsilon and the attention's scale (1/sqrt(head_dim))
are set explicitly in every framework, whose defaults differ.

Padding, the same rule in all three: a key that is padding is masked out of every query's
attention; a text made only of padding (none in real data) masks nothing, so that its
attention stays finite (a softmax over no key is 0/0), and pools to zeros (its logits are the
classifier's bias).

Shared weights are drawn once in NumPy in the canonical layout, Keras's and Flax's: embeddings
(rows, d), dense kernels (in, out), attention projections per head (query/key/value kernels
(d, heads, head_dim), biases (heads, head_dim); the output kernel (heads, head_dim, d)).
Canonical names follow Flax's variable paths ("encoder_0/attention/query/kernel").
"""

from __future__ import annotations

import numpy as np

from workload.weights import Weights

# The one definition of the architecture: every framework builds its layers from these.
SEQUENCE_LENGTH = 64  # token ids per text, padded (0) or cut by the data preparation
VOCAB_SIZE = 20_000  # ids below it; 0 = padding, 1 = unknown
PAD = 0
NUM_CLASSES = 4
D_MODEL = 128
HEADS = 4
HEAD_DIM = D_MODEL // HEADS
MLP_DIM = 512
LAYERS = 2  # a few; two keep an epoch of AG News affordable on a CPU
LAYER_NORM_EPSILON = 1e-5
ATTENTION_SCALE = HEAD_DIM**-0.5  # every framework's default, stated: queries times this

# Layer names, Flax's paths: a canonical weight is "<layer>/<variable>".
TOKEN_EMBEDDING = "token_embedding"
POSITION_EMBEDDING = "position_embedding"
ATTENTION_NORM = "attention_norm"  # LN before the attention, inside each encoder layer
ATTENTION = "attention"
PROJECTIONS = ("query", "key", "value")  # and "out", Flax's name for the output projection
OUT = "out"
MLP_NORM = "mlp_norm"
MLP_IN = "mlp_in"  # Dense(MLP_DIM) + GELU
MLP_OUT = "mlp_out"  # Dense(D_MODEL)
FINAL_NORM = "final_norm"
CLASSIFIER = "classifier"
# The reference count of the public contract (trainable parameters); the runner refuses a
# model that differs. derived_parameter_count() works it out from the sizes above.
PARAMETER_COUNT = 2_965_508


def encoder(i: int) -> str:
    """The name of the i-th encoder layer (from 0)."""
    return f"encoder_{i}"


def derived_parameter_count() -> int:
    norm = 2 * D_MODEL  # scale and bias
    attention = 3 * (D_MODEL * HEADS * HEAD_DIM + HEADS * HEAD_DIM) + (
        HEADS * HEAD_DIM * D_MODEL + D_MODEL
    )
    mlp = (D_MODEL * MLP_DIM + MLP_DIM) + (MLP_DIM * D_MODEL + D_MODEL)
    embeddings = (VOCAB_SIZE + SEQUENCE_LENGTH) * D_MODEL
    classifier = D_MODEL * NUM_CLASSES + NUM_CLASSES
    return embeddings + LAYERS * (2 * norm + attention + mlp) + norm + classifier


def _glorot_uniform(rng: np.random.Generator, fan_in: int, fan_out: int) -> np.ndarray:
    # Keras's default kernel initializer, over the kernel seen as a (fan_in, fan_out) matrix
    # (an attention projection's per-head kernel is a reshaped (d, d) matrix).
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=(fan_in, fan_out)).astype(np.float32)


def _embedding(rng: np.random.Generator, rows: int) -> np.ndarray:
    # Keras's Embedding default, U(-0.05, 0.05).
    return rng.uniform(-0.05, 0.05, size=(rows, D_MODEL)).astype(np.float32)


def shared_weights(seed: int) -> Weights:
    rng = np.random.default_rng([seed, 0x7E47])
    arrays: dict[str, np.ndarray] = {
        f"{TOKEN_EMBEDDING}/embedding": _embedding(rng, VOCAB_SIZE),
        f"{POSITION_EMBEDDING}/embedding": _embedding(rng, SEQUENCE_LENGTH),
    }

    def norm(name: str) -> None:
        arrays[f"{name}/scale"] = np.ones(D_MODEL, np.float32)
        arrays[f"{name}/bias"] = np.zeros(D_MODEL, np.float32)

    def dense(name: str, fan_in: int, fan_out: int) -> None:
        arrays[f"{name}/kernel"] = _glorot_uniform(rng, fan_in, fan_out)
        arrays[f"{name}/bias"] = np.zeros(fan_out, np.float32)

    for i in range(LAYERS):
        layer = encoder(i)
        norm(f"{layer}/{ATTENTION_NORM}")
        for p in PROJECTIONS:
            name = f"{layer}/{ATTENTION}/{p}"
            arrays[f"{name}/kernel"] = _glorot_uniform(rng, D_MODEL, D_MODEL).reshape(
                D_MODEL, HEADS, HEAD_DIM
            )
            arrays[f"{name}/bias"] = np.zeros((HEADS, HEAD_DIM), np.float32)
        name = f"{layer}/{ATTENTION}/{OUT}"
        arrays[f"{name}/kernel"] = _glorot_uniform(rng, D_MODEL, D_MODEL).reshape(
            HEADS, HEAD_DIM, D_MODEL
        )
        arrays[f"{name}/bias"] = np.zeros(D_MODEL, np.float32)
        norm(f"{layer}/{MLP_NORM}")
        dense(f"{layer}/{MLP_IN}", D_MODEL, MLP_DIM)
        dense(f"{layer}/{MLP_OUT}", MLP_DIM, D_MODEL)
    norm(FINAL_NORM)
    dense(CLASSIFIER, D_MODEL, NUM_CLASSES)
    return Weights(arrays)
