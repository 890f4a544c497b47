"""Regex SMILES tokenizer with special tokens and an exact round trip.

Token ids are laid out as the four special tokens first (PAD, BOS, EOS, MASK), then the
molecule symbols in sorted order. A tokenized sequence is ``BOS s_1 ... s_n EOS PAD ... PAD``
with right padding to a fixed length.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch

PAD, BOS, EOS, MASK = "<pad>", "<bos>", "<eos>", "<mask>"
SPECIAL_TOKENS = (PAD, BOS, EOS, MASK)

# One alternative per SMILES symbol: bracket atoms whole, two-letter organic-subset halogens
# before their one-letter prefixes, "%nn" ring labels as one token, then single characters.
# Aromatic "c" never joins a preceding "S" because "Sc" is only legal inside brackets.
SMILES_PATTERN = re.compile(
    r"(\[[^\[\]]+\]|Br|Cl|%\d{2}|[BCNOPSFI]|[bcnops]|[()=#\-+\\/:~@?>*$.]|\d)"
)


class TokenizerError(ValueError):
    """A string that the tokenizer cannot split or a symbol outside the vocabulary."""


def split_smiles(smiles: str) -> list[str]:
    """Split a SMILES string into symbols; raise TokenizerError if any character is not covered."""
    tokens = SMILES_PATTERN.findall(smiles)
    if "".join(tokens) != smiles:
        position = _first_uncovered(smiles, tokens)
        raise TokenizerError(
            f"cannot tokenize SMILES {smiles!r}: the character {smiles[position]!r} at position "
            f"{position} is not part of any SMILES symbol"
        )
    return tokens


def _first_uncovered(smiles: str, tokens: list[str]) -> int:
    position = 0
    for match in SMILES_PATTERN.finditer(smiles):
        if match.start() != position:
            return position
        position = match.end()
    return position


@dataclass(frozen=True)
class Decoded:
    """One decoded sample: the SMILES up to the first EOS, or None with the reason it is invalid."""

    smiles: str | None
    error: str | None = None


class SmilesTokenizer:
    """Map SMILES strings to fixed-length id sequences and back."""

    def __init__(self, symbols: Sequence[str]):
        symbols = list(symbols)
        clash = sorted(set(symbols) & set(SPECIAL_TOKENS))
        if clash:
            raise TokenizerError(f"vocabulary symbols {clash} collide with special tokens")
        if len(set(symbols)) != len(symbols):
            raise TokenizerError("vocabulary symbols must be distinct")
        self.vocab: list[str] = list(SPECIAL_TOKENS) + symbols
        self.token_to_id = {token: index for index, token in enumerate(self.vocab)}
        self.pad_id, self.bos_id, self.eos_id, self.mask_id = range(4)

    @classmethod
    def from_smiles(cls, smiles: Iterable[str]) -> SmilesTokenizer:
        """Build a vocabulary from every symbol that occurs in the given (canonical) strings."""
        symbols: set[str] = set()
        for item in smiles:
            symbols.update(split_smiles(item))
        return cls(sorted(symbols))

    def __len__(self) -> int:
        return len(self.vocab)

    @property
    def special_ids(self) -> tuple[int, ...]:
        return (self.pad_id, self.bos_id, self.eos_id, self.mask_id)

    def tokenize(self, smiles: str) -> list[str]:
        """Split into symbols and check each one is in the vocabulary."""
        tokens = split_smiles(smiles)
        for token in tokens:
            if token not in self.token_to_id or token in SPECIAL_TOKENS:
                raise TokenizerError(
                    f"symbol {token!r} in SMILES {smiles!r} is not in the vocabulary of "
                    f"{len(self.vocab)} tokens; retrain or rebuild the vocabulary on data "
                    f"that contains it"
                )
        return tokens

    def encode(self, smiles: str, length: int) -> list[int]:
        """Encode as BOS + symbols + EOS, right-padded with PAD to ``length`` ids."""
        ids = [self.bos_id] + [self.token_to_id[t] for t in self.tokenize(smiles)] + [self.eos_id]
        if len(ids) > length:
            raise TokenizerError(
                f"SMILES {smiles!r} needs {len(ids)} tokens with BOS and EOS, more than the "
                f"sequence length {length}; raise the length in the data configuration"
            )
        return ids + [self.pad_id] * (length - len(ids))

    def encode_batch(self, smiles: Sequence[str], length: int) -> torch.Tensor:
        """Encode many strings. Returns a LongTensor of shape (N, length)."""
        return torch.tensor([self.encode(s, length) for s in smiles], dtype=torch.long)

    def decode(self, ids: Sequence[int]) -> Decoded:
        """Decode one sample: BOS, symbols up to the first EOS; any special token between is invalid.

        Nothing is stripped: a MASK, PAD or BOS inside the molecule, a missing BOS or a missing
        EOS makes the sample invalid. Tokens after the first EOS are ignored.
        """
        ids = [int(i) for i in ids]
        if not ids or ids[0] != self.bos_id:
            return Decoded(None, "sequence does not start with BOS")
        try:
            end = ids.index(self.eos_id, 1)
        except ValueError:
            return Decoded(None, "no EOS token")
        body = ids[1:end]
        for index in body:
            if index < 0 or index >= len(self.vocab):
                return Decoded(None, f"token id {index} outside the vocabulary")
            if index in self.special_ids:
                return Decoded(None, f"special token {self.vocab[index]} inside the molecule")
        return Decoded("".join(self.vocab[i] for i in body))

    def decode_batch(self, ids: torch.Tensor) -> list[Decoded]:
        """Decode a LongTensor of shape (N, L)."""
        return [self.decode(row) for row in ids.tolist()]

    def to_json(self) -> str:
        return json.dumps({"kind": "smiles-regex", "vocab": self.vocab})

    @classmethod
    def from_json(cls, text: str) -> SmilesTokenizer:
        """Rebuild from ``to_json`` output; the special tokens must lead the vocabulary."""
        data = json.loads(text)
        return cls.from_vocab(data["vocab"])

    @classmethod
    def from_vocab(cls, vocab: Sequence[str]) -> SmilesTokenizer:
        vocab = list(vocab)
        if tuple(vocab[:4]) != SPECIAL_TOKENS:
            raise TokenizerError(
                f"stored vocabulary must start with {list(SPECIAL_TOKENS)}, got {vocab[:4]}"
            )
        return cls(vocab[4:])
