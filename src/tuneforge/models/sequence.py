"""Sequence models: ``rnn`` (LSTM/GRU) and ``transformer`` (a small encoder).

Rows are ``[T, F]`` float features or ``[T]`` integer token ids, right-padded: padded steps are
NaN (features) or -1 (tokens), see ``tuneforge.data.tensors``. Both models mask them, so the
output for a sequence does not depend on how much padding follows it: the RNN runs on packed
sequences and reads each one's last valid state; the transformer gets a key padding mask and
pools over valid steps only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from tuneforge.config.arch_schema import RNNModel, TransformerModel
from tuneforge.errors import ConfigError


def sequence_shape(cfg: RNNModel | TransformerModel, n_in: int | Sequence[int]) -> tuple[int, int | None]:
    """``(steps, features)`` of the rows; features is None for token ids (``[T]`` rows)."""
    shape = [n_in] if isinstance(n_in, int) else [int(v) for v in n_in]
    if len(shape) not in (1, 2) or (len(shape) == 1 and isinstance(n_in, int)):
        raise ConfigError(f"model.kind: {cfg.kind} needs sequence data ([T, F] or [T] token-id "
                          f"rows; data.shape: sequence), got rows of shape {shape}")  # fmt: skip
    tokens = len(shape) == 1
    if tokens and cfg.vocab_size is None:
        raise ConfigError("model.vocab_size: the rows are integer token ids; give the vocabulary size")
    if not tokens and cfg.vocab_size is not None:
        raise ConfigError("model.vocab_size: set for token ids, but the rows are float features")
    return shape[0], None if tokens else shape[1]


def split_padding(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(x with padding zeroed, pad mask [B, T])``; padding is NaN (features) / < 0 (ids)."""
    if x.is_floating_point():
        pad = x.isnan().any(-1)
        return x.masked_fill(pad[..., None], 0.0), pad
    pad = x < 0
    return x.clamp_min(0), pad


class RecurrentNet(nn.Module):
    """LSTM/GRU over the valid steps; the head reads the final state of the last layer (both
    directions when bidirectional: forward at the last valid step, backward at the first)."""

    def __init__(self, cfg: RNNModel, n_in: int | Sequence[int], n_out: int):
        super().__init__()
        _, features = sequence_shape(cfg, n_in)
        self.embed = nn.Embedding(cfg.vocab_size, cfg.embed_dim) if features is None else None
        cell = {"lstm": nn.LSTM, "gru": nn.GRU}[cfg.cell]
        self.rnn = cell(features or cfg.embed_dim, cfg.hidden_size, num_layers=cfg.layers,
                        batch_first=True, bidirectional=cfg.bidirectional,
                        dropout=cfg.dropout if cfg.layers > 1 else 0.0)  # fmt: skip
        self.directions = 2 if cfg.bidirectional else 1
        self.dropout = nn.Dropout(cfg.dropout)
        self.head = nn.Linear(cfg.hidden_size * self.directions, n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        steps, pad = split_padding(x)
        if self.embed is not None:
            steps = self.embed(steps)
        lengths = (~pad).sum(1)
        if self.directions == 1:
            # A forward RNN's output at the last valid step does not depend on the padding after
            # it: read it there, with no packing. Packing wants the lengths on the host, a
            # device-to-host copy (and sync) every forward on a GPU.
            out, _ = self.rnn(steps)
            last = out[torch.arange(len(x), device=x.device), (lengths - 1).clamp_min(0)]
            return self.head(self.dropout(last))
        # the backward direction must start at each row's own last step: pack
        packed = pack_padded_sequence(steps, lengths.cpu(), batch_first=True, enforce_sorted=False)
        _, state = self.rnn(packed)
        hidden = state[0] if isinstance(state, tuple) else state  # LSTM: (h, c)
        last = hidden[-self.directions :].transpose(0, 1).reshape(len(x), -1)
        return self.head(self.dropout(last))


def sinusoidal_positions(length: int, width: int) -> torch.Tensor:
    """The fixed encoding of Vaswani et al. (2017): sin/cos of position / 10000^(2i/d)."""
    position = torch.arange(length, dtype=torch.float32)[:, None]
    rate = torch.exp(torch.arange(0, width, 2, dtype=torch.float32) * (-math.log(10000.0) / width))
    table = torch.zeros(length, width)
    table[:, 0::2] = torch.sin(position * rate)
    table[:, 1::2] = torch.cos(position * rate)[:, : width // 2]
    return table[None]


class TransformerNet(nn.Module):
    """Embed (linear for features, lookup for tokens) + positions -> pre-norm encoder blocks with
    a key padding mask -> pool (mean of valid steps, a learned [CLS] step, or the last valid
    step) -> linear head."""

    def __init__(self, cfg: TransformerModel, n_in: int | Sequence[int], n_out: int):
        super().__init__()
        steps, features = sequence_shape(cfg, n_in)
        d = cfg.d_model
        self.pooling = cfg.pooling
        self.embed = nn.Embedding(cfg.vocab_size, d) if features is None else nn.Linear(features, d)
        self.cls = nn.Parameter(torch.zeros(1, 1, d)) if cfg.pooling == "cls" else None
        self.max_length = cfg.max_length or steps
        positions = self.max_length + (cfg.pooling == "cls")
        if cfg.positional == "learned":
            self.position = nn.Parameter(torch.randn(1, positions, d) * 0.02)
        else:
            self.register_buffer("position", sinusoidal_positions(positions, d), persistent=False)
        layer = nn.TransformerEncoderLayer(d, cfg.heads, cfg.ff, cfg.dropout, cfg.activation,
                                           batch_first=True, norm_first=True)  # fmt: skip
        self.encoder = nn.TransformerEncoder(layer, cfg.layers, norm=nn.LayerNorm(d),
                                             enable_nested_tensor=False)  # fmt: skip
        self.head = nn.Linear(d, n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        steps, pad = split_padding(x)
        if x.shape[1] > self.max_length:
            raise ValueError(f"sequences of {x.shape[1]} steps are longer than model.max_length "
                             f"{self.max_length}")  # fmt: skip
        h = self.embed(steps)
        if self.cls is not None:
            h = torch.cat([self.cls.expand(len(x), -1, -1), h], 1)
            pad = torch.cat([pad.new_zeros(len(x), 1), pad], 1)
        h = h + self.position[:, : h.shape[1]]
        h = self.encoder(h, src_key_padding_mask=pad)
        return self.head(self._pool(h, pad))

    def _pool(self, h: torch.Tensor, pad: torch.Tensor) -> torch.Tensor:
        if self.pooling == "cls":
            return h[:, 0]
        if self.pooling == "last":
            last = (~pad).sum(1) - 1
            return h[torch.arange(len(h), device=h.device), last]
        valid = (~pad)[..., None].to(h.dtype)
        return (h * valid).sum(1) / valid.sum(1)


def build_rnn(cfg: RNNModel, n_in: int | Sequence[int], n_out: int) -> RecurrentNet:
    return RecurrentNet(cfg, n_in, n_out)


def build_transformer(cfg: TransformerModel, n_in: int | Sequence[int], n_out: int) -> TransformerNet:
    return TransformerNet(cfg, n_in, n_out)
