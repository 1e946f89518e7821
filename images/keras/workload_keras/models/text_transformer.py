"""`text-transformer` in Keras: a functional model of Embedding, MultiHeadAttention and
LayerNormalization layers. The padding mask is given to the attention explicitly
(`attention_mask`), not through Keras's implicit masking (`mask_zero`), whose propagation
differs from the other frameworks'. Keras layer names cannot hold "/", so an encoder layer's
parts are flat layers ("encoder_0_attention"); `keras_names` maps the canonical names."""

from __future__ import annotations

import keras
from keras import ops
from workload.models import model_spec
from workload.models import text_transformer as tt

from workload_keras.models.base import KerasModel

# Canonical variable -> Keras's, where the layer's own variable names differ.
_VARIABLES = {"embedding": "embeddings", "scale": "gamma", "bias": "beta"}
_NORMS = (tt.ATTENTION_NORM, tt.MLP_NORM, tt.FINAL_NORM)
_KERAS_OUT = "attention_output"  # MultiHeadAttention's name for Flax's "out"


def _norm(name: str) -> keras.layers.LayerNormalization:
    # Keras's default epsilon is 1e-3 (torch's and ours 1e-5).
    return keras.layers.LayerNormalization(epsilon=tt.LAYER_NORM_EPSILON, name=name)


def _keras_name(canonical: str) -> str:
    *layer, variable = canonical.split("/")
    if layer[-1] in _NORMS or layer[-1] in (tt.TOKEN_EMBEDDING, tt.POSITION_EMBEDDING):
        variable = _VARIABLES.get(variable, variable)
    if len(layer) > 1 and layer[1] == tt.ATTENTION and layer[-1] == tt.OUT:
        layer[-1] = _KERAS_OUT
    # "encoder_0/attention/query" -> layer "encoder_0_attention", sub-layer "query"
    head = "_".join(layer[:2])
    return "/".join([head, *layer[2:], variable])


class TextTransformer(KerasModel):
    def make(self) -> keras.Model:
        ids = keras.Input((tt.SEQUENCE_LENGTH,), dtype="int32")
        tokens = ops.not_equal(ids, tt.PAD)
        # A text of padding only masks nothing (workload.models.text_transformer).
        keys = ops.logical_or(tokens, ops.logical_not(ops.any(tokens, axis=1, keepdims=True)))
        attention_mask = keys[:, None, :]  # (batch, queries, keys), broadcast over queries
        # The positions as a tensor of the graph, for a plain Embedding layer to look up.
        position_ids = ops.zeros_like(ids) + ops.arange(tt.SEQUENCE_LENGTH, dtype="int32")
        positions = keras.layers.Embedding(
            tt.SEQUENCE_LENGTH, tt.D_MODEL, name=tt.POSITION_EMBEDDING
        )
        x = keras.layers.Embedding(tt.VOCAB_SIZE, tt.D_MODEL, name=tt.TOKEN_EMBEDDING)(ids)
        x = x + positions(position_ids)
        for i in range(tt.LAYERS):
            layer = tt.encoder(i)
            h = _norm(f"{layer}_{tt.ATTENTION_NORM}")(x)
            attention = keras.layers.MultiHeadAttention(
                tt.HEADS, tt.HEAD_DIM, dropout=0.0, name=f"{layer}_{tt.ATTENTION}"
            )  # queries scaled by 1/sqrt(key_dim), Keras's rule
            x = x + attention(h, h, attention_mask=attention_mask)
            h = keras.layers.Dense(tt.MLP_DIM, name=f"{layer}_{tt.MLP_IN}")(
                _norm(f"{layer}_{tt.MLP_NORM}")(x)
            )
            h = ops.gelu(h, approximate=False)  # exact (erf), as torch's and Flax's here
            x = x + keras.layers.Dense(tt.D_MODEL, name=f"{layer}_{tt.MLP_OUT}")(h)
        x = _norm(tt.FINAL_NORM)(x)
        weights = ops.expand_dims(ops.cast(tokens, x.dtype), -1)
        count = ops.maximum(ops.sum(weights, axis=1), 1.0)  # a text of padding only pools to 0
        pooled = ops.sum(x * weights, axis=1) / count
        # Logits; the softmax lives in the loss.
        logits = keras.layers.Dense(tt.NUM_CLASSES, name=tt.CLASSIFIER)(pooled)
        return keras.Model(ids, logits, name="text_transformer")

    def keras_names(self) -> dict[str, str]:
        names = {n: _keras_name(n) for n in model_spec("text-transformer").layout().arrays}
        return {n: k for n, k in names.items() if n != k}
