"""`text-transformer` in Flax: nn.Embed, nn.MultiHeadDotProductAttention and nn.LayerNorm,
whose variables are the canonical layout and names themselves."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
from workload.models import text_transformer as tt

from workload_jax.models.base import JaxModel


def _norm(name: str) -> nn.LayerNorm:
    # Flax's default epsilon is 1e-6 (torch's and ours 1e-5); the exact variance, as torch
    # and Keras compute it, rather than Flax's default E[x^2] - E[x]^2.
    return nn.LayerNorm(epsilon=tt.LAYER_NORM_EPSILON, use_fast_variance=False, name=name)


class EncoderLayer(nn.Module):
    """Pre-norm: x + MHA(LN(x)), then x + MLP(LN(x))."""

    @nn.compact
    def __call__(self, x: jax.Array, mask: jax.Array) -> jax.Array:
        attention = nn.MultiHeadDotProductAttention(
            num_heads=tt.HEADS,
            qkv_features=tt.D_MODEL,
            out_features=tt.D_MODEL,
            dropout_rate=0.0,
            deterministic=True,
            name=tt.ATTENTION,
        )  # scores scaled by 1/sqrt(head_dim), Flax's rule (dot_product_attention)
        x = x + attention(_norm(tt.ATTENTION_NORM)(x), mask=mask)
        h = nn.Dense(tt.MLP_DIM, name=tt.MLP_IN)(_norm(tt.MLP_NORM)(x))
        h = nn.gelu(h, approximate=False)  # Flax's default is the tanh approximation
        return x + nn.Dense(tt.D_MODEL, name=tt.MLP_OUT)(h)


class TextTransformerModule(nn.Module):
    @nn.compact
    def __call__(self, ids: jax.Array, train: bool = False) -> jax.Array:
        # `train` is unused (no dropout, no BatchNorm): the signature every JAX model shares.
        tokens = ids != tt.PAD
        # A text of padding only masks nothing (workload.models.text_transformer).
        keys = tokens | ~tokens.any(axis=1, keepdims=True)
        mask = keys[:, None, None, :]  # (batch, heads, queries, keys)
        x = nn.Embed(tt.VOCAB_SIZE, tt.D_MODEL, name=tt.TOKEN_EMBEDDING)(ids)
        positions = nn.Embed(tt.SEQUENCE_LENGTH, tt.D_MODEL, name=tt.POSITION_EMBEDDING)
        x = x + positions(jnp.arange(ids.shape[1]))[None]
        for i in range(tt.LAYERS):
            x = EncoderLayer(name=tt.encoder(i))(x, mask)
        x = _norm(tt.FINAL_NORM)(x)
        weights = tokens.astype(x.dtype)[..., None]
        count = jnp.maximum(weights.sum(axis=1), 1.0)  # a text of padding only pools to 0
        pooled = (x * weights).sum(axis=1) / count
        return nn.Dense(tt.NUM_CLASSES, name=tt.CLASSIFIER)(pooled)  # logits; softmax in the loss


class TextTransformer(JaxModel):
    def make(self) -> nn.Module:
        return TextTransformerModule()
