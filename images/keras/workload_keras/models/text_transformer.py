"""`text-transformer` in Keras: a functional model of Embedding, MultiHeadAttention and
LayerNormalization layers. The padding mask is given to the attention explicitly
(`attention_mask`), not through Keras's implicit masking (`mask_zero`), whose propagation
differs from the other frameworks'. Keras layer names cannot hold "/", so an encoder layer's
parts are flat layers ("encoder_0_attention"); `keras_names` maps the canonical names."""

from __future__ import annotations

import keras
from keras import ops
from workload.models.text_transformer import (
    ATTENTION,
    ATTENTION_NORM,
    CLASSIFIER,
    D_MODEL,
    FINAL_NORM,
    HEAD_DIM,
    HEADS,
    LAYER_NORM_EPSILON,
    LAYERS,
    MLP_DIM,
    MLP_IN,
    MLP_NORM,
    MLP_OUT,
    NUM_CLASSES,
    OUT,
    PAD,
    POSITION_EMBEDDING,
    SEQUENCE_LENGTH,
    TOKEN_EMBEDDING,
    VOCAB_SIZE,
    encoder,
    shared_weights,
)

from workload_keras.models.base import KerasModel

# Canonical variable -> Keras's, where the layer's own variable names differ.
_VARIABLES = {"embedding": "embeddings", "scale": "gamma", "bias": "beta"}
_NORMS = (ATTENTION_NORM, MLP_NORM, FINAL_NORM)
_KERAS_OUT = "attention_output"  # MultiHeadAttention's name for Flax's "out"


def _norm(name: str) -> keras.layers.LayerNormalization:
    # Keras's default epsilon is 1e-3 (torch's and ours 1e-5).
    return keras.layers.LayerNormalization(epsilon=LAYER_NORM_EPSILON, name=name)


def _keras_name(canonical: str) -> str:
    *layer, variable = canonical.split("/")
    if layer[-1] in _NORMS or layer[-1] in (TOKEN_EMBEDDING, POSITION_EMBEDDING):
        variable = _VARIABLES.get(variable, variable)
    if len(layer) > 1 and layer[1] == ATTENTION and layer[-1] == OUT:
        layer[-1] = _KERAS_OUT
    # "encoder_0/attention/query" -> layer "encoder_0_attention", sub-layer "query"
    head = "_".join(layer[:2])
    return "/".join([head, *layer[2:], variable])


class TextTransformer(KerasModel):
    def make(self) -> keras.Model:
        ids = keras.Input((SEQUENCE_LENGTH,), dtype="int32")
        tokens = ops.not_equal(ids, PAD)
        # A text of padding only masks nothing (workload.models.text_transformer).
        keys = ops.logical_or(tokens, ops.logical_not(ops.any(tokens, axis=1, keepdims=True)))
        attention_mask = keys[:, None, :]  # (batch, queries, keys), broadcast over queries
        # The positions as a tensor of the graph, for a plain Embedding layer to look up.
        position_ids = ops.zeros_like(ids) + ops.arange(SEQUENCE_LENGTH, dtype="int32")
        positions = keras.layers.Embedding(SEQUENCE_LENGTH, D_MODEL, name=POSITION_EMBEDDING)
        x = keras.layers.Embedding(VOCAB_SIZE, D_MODEL, name=TOKEN_EMBEDDING)(ids)
        x = x + positions(position_ids)
        for i in range(LAYERS):
            layer = encoder(i)
            h = _norm(f"{layer}_{ATTENTION_NORM}")(x)
            attention = keras.layers.MultiHeadAttention(
                HEADS, HEAD_DIM, dropout=0.0, name=f"{layer}_{ATTENTION}"
            )  # queries scaled by 1/sqrt(key_dim), Keras's rule
            x = x + attention(h, h, attention_mask=attention_mask)
            h = keras.layers.Dense(MLP_DIM, name=f"{layer}_{MLP_IN}")(
                _norm(f"{layer}_{MLP_NORM}")(x)
            )
            h = ops.gelu(h, approximate=False)  # exact (erf), as torch's and Flax's here
            x = x + keras.layers.Dense(D_MODEL, name=f"{layer}_{MLP_OUT}")(h)
        x = _norm(FINAL_NORM)(x)
        weights = ops.expand_dims(ops.cast(tokens, x.dtype), -1)
        count = ops.maximum(ops.sum(weights, axis=1), 1.0)  # a text of padding only pools to 0
        pooled = ops.sum(x * weights, axis=1) / count
        logits = keras.layers.Dense(NUM_CLASSES, name=CLASSIFIER)(pooled)  # softmax in the loss
        return keras.Model(ids, logits, name="text_transformer")

    def keras_names(self) -> dict[str, str]:
        names = {n: _keras_name(n) for n in shared_weights(0).arrays}
        return {n: k for n, k in names.items() if n != k}
