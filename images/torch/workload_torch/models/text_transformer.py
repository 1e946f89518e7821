"""`text-transformer` in PyTorch: nn.Embedding and nn.TransformerEncoder of pre-norm
nn.TransformerEncoderLayer (its fused CPU path in inference). The attention's input projection
is one (3d, d) matrix, (out, in), queries then keys then values, heads contiguous along out;
the canonical layout keeps a (d, heads, head_dim) kernel per projection."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from workload.models import text_transformer as tt
from workload.weights import Weights

from workload_torch.models.base import TorchModel


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.token_embedding = nn.Embedding(tt.VOCAB_SIZE, tt.D_MODEL)
        self.position_embedding = nn.Embedding(tt.SEQUENCE_LENGTH, tt.D_MODEL)
        layer = nn.TransformerEncoderLayer(
            tt.D_MODEL,
            tt.HEADS,
            tt.MLP_DIM,
            dropout=0.0,
            activation="gelu",  # F.gelu: exact (erf), approximate="none"
            layer_norm_eps=tt.LAYER_NORM_EPSILON,
            batch_first=True,
            norm_first=True,  # pre-norm
        )  # scores scaled by 1/sqrt(head_dim), scaled_dot_product_attention's default
        self.encoder = nn.TransformerEncoder(
            layer,
            tt.LAYERS,
            norm=nn.LayerNorm(tt.D_MODEL, eps=tt.LAYER_NORM_EPSILON),  # the final LN
            # Nested tensors need post-norm layers; said, not left to a warning.
            enable_nested_tensor=False,
        )
        self.classifier = nn.Linear(tt.D_MODEL, tt.NUM_CLASSES)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        tokens = ids != tt.PAD
        # A text of padding only masks nothing (workload.models.text_transformer).
        keys = tokens | ~tokens.any(dim=1, keepdim=True)
        positions = torch.arange(ids.shape[1], device=ids.device)
        x = self.token_embedding(ids) + self.position_embedding(positions)
        x = self.encoder(x, src_key_padding_mask=~keys)  # True = ignore this key
        weights = tokens.to(x.dtype).unsqueeze(-1)
        count = weights.sum(dim=1).clamp(min=1.0)  # a text of padding only pools to 0
        return self.classifier((x * weights).sum(dim=1) / count)  # logits; softmax in the loss


def _plain_layers(i: int) -> list[tuple[str, str]]:
    """(canonical layer, torch module) of encoder layer i's norms and dense layers, in the
    canonical order around the attention: its norm first, then the MLP's three."""
    layer, prefix = tt.encoder(i), f"encoder.layers.{i}"
    return [
        (f"{layer}/{tt.ATTENTION_NORM}", f"{prefix}.norm1"),
        (f"{layer}/{tt.MLP_NORM}", f"{prefix}.norm2"),
        (f"{layer}/{tt.MLP_IN}", f"{prefix}.linear1"),
        (f"{layer}/{tt.MLP_OUT}", f"{prefix}.linear2"),
    ]


def _is_norm(canonical: str) -> bool:
    return canonical.endswith((tt.ATTENTION_NORM, tt.MLP_NORM, tt.FINAL_NORM))


def _to_module(w: dict[str, np.ndarray], canonical: str, module: str) -> dict[str, np.ndarray]:
    """A norm (scale, bias) or a dense layer (kernel (in, out) -> weight (out, in), bias)."""
    weight = w[f"{canonical}/scale"] if _is_norm(canonical) else w[f"{canonical}/kernel"].T
    return {f"{module}.weight": weight, f"{module}.bias": w[f"{canonical}/bias"]}


def _from_module(
    state: dict[str, np.ndarray], canonical: str, module: str
) -> dict[str, np.ndarray]:
    weight, bias = state[f"{module}.weight"], state[f"{module}.bias"]
    if _is_norm(canonical):
        return {f"{canonical}/scale": weight, f"{canonical}/bias": bias}
    return {f"{canonical}/kernel": weight.T, f"{canonical}/bias": bias}


_FINAL = [(tt.FINAL_NORM, "encoder.norm"), (tt.CLASSIFIER, "classifier")]


class TextTransformer(TorchModel):
    def make(self) -> nn.Module:
        return Net()

    def to_torch(self, weights: Weights) -> dict[str, np.ndarray]:
        w = weights.arrays
        state = {
            "token_embedding.weight": w[f"{tt.TOKEN_EMBEDDING}/embedding"],
            "position_embedding.weight": w[f"{tt.POSITION_EMBEDDING}/embedding"],
        }
        for i in range(tt.LAYERS):
            attention, prefix = f"{tt.encoder(i)}/{tt.ATTENTION}", f"encoder.layers.{i}.self_attn"
            for canonical, module in _plain_layers(i):
                state.update(_to_module(w, canonical, module))
            # (d, heads, head_dim) kernels -> (d, d) (in, out) -> (out, in), stacked q, k, v.
            state[f"{prefix}.in_proj_weight"] = np.concatenate(
                [
                    w[f"{attention}/{p}/kernel"].reshape(tt.D_MODEL, tt.D_MODEL).T
                    for p in tt.PROJECTIONS
                ]
            )
            state[f"{prefix}.in_proj_bias"] = np.concatenate(
                [w[f"{attention}/{p}/bias"].reshape(tt.D_MODEL) for p in tt.PROJECTIONS]
            )
            # (heads, head_dim, d) -> (d, d) (in, out) -> (out, in)
            out = w[f"{attention}/{tt.OUT}/kernel"].reshape(tt.D_MODEL, tt.D_MODEL).T
            state[f"{prefix}.out_proj.weight"] = out
            state[f"{prefix}.out_proj.bias"] = w[f"{attention}/{tt.OUT}/bias"]
        for canonical, module in _FINAL:
            state.update(_to_module(w, canonical, module))
        return state

    def from_torch(self, state: dict[str, np.ndarray]) -> Weights:
        """In the canonical order of shared_weights."""
        a = {
            f"{tt.TOKEN_EMBEDDING}/embedding": state["token_embedding.weight"],
            f"{tt.POSITION_EMBEDDING}/embedding": state["position_embedding.weight"],
        }
        for i in range(tt.LAYERS):
            attention, prefix = f"{tt.encoder(i)}/{tt.ATTENTION}", f"encoder.layers.{i}.self_attn"
            norm, *mlp = _plain_layers(i)
            a.update(_from_module(state, *norm))
            weight, bias = state[f"{prefix}.in_proj_weight"], state[f"{prefix}.in_proj_bias"]
            for j, p in enumerate(tt.PROJECTIONS):
                rows = slice(j * tt.D_MODEL, (j + 1) * tt.D_MODEL)
                a[f"{attention}/{p}/kernel"] = weight[rows].T.reshape(
                    tt.D_MODEL, tt.HEADS, tt.HEAD_DIM
                )
                a[f"{attention}/{p}/bias"] = bias[rows].reshape(tt.HEADS, tt.HEAD_DIM)
            out = state[f"{prefix}.out_proj.weight"].T.reshape(tt.HEADS, tt.HEAD_DIM, tt.D_MODEL)
            a[f"{attention}/{tt.OUT}/kernel"] = out
            a[f"{attention}/{tt.OUT}/bias"] = state[f"{prefix}.out_proj.bias"]
            for layer in mlp:
                a.update(_from_module(state, *layer))
        for canonical, module in _FINAL:
            a.update(_from_module(state, canonical, module))
        return Weights({k: np.ascontiguousarray(v, dtype=np.float32) for k, v in a.items()})
