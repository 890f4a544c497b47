"""Tokenizers of molecule strings: regex SMILES with an exact round trip, or SELFIES.

Both take canonical SMILES in and give SMILES out; they differ in the symbols the
model reads and writes.
Token ids are laid out as the four special tokens first (PAD, BOS, EOS, MASK), then the
molecule symbols in sorted order. A tokenized sequence is ``BOS s_1 ... s_n EOS PAD ... PAD``
with right padding to a fixed length.
"""

from __future__ import annotations

import importlib.metadata
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import selfies
import torch

PAD, BOS, EOS, MASK = "<pad>", "<bos>", "<eos>", "<mask>"
SPECIAL_TOKENS = (PAD, BOS, EOS, MASK)
# the installed distribution's version: selfies 2.2.0 still reports "2.1.1" as __version__
SELFIES_VERSION: str = importlib.metadata.version("selfies")

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


class Tokenizer:
    """Map molecules (canonical SMILES) to fixed-length id sequences and back.

    Subclasses define the symbols: ``split`` turns a SMILES string into symbols (raising
    TokenizerError when it cannot) and ``join`` turns symbols back into a SMILES string.
    """

    representation = ""

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

    @staticmethod
    def split(smiles: str) -> list[str]:
        raise NotImplementedError

    @staticmethod
    def join(symbols: Sequence[str]) -> str:
        raise NotImplementedError

    @classmethod
    def from_smiles(cls, smiles: Iterable[str]) -> Tokenizer:
        """Build a vocabulary from every symbol that occurs in the given (canonical) strings."""
        symbols: set[str] = set()
        for item in smiles:
            symbols.update(cls.split(item))
        return cls(sorted(symbols))

    def __len__(self) -> int:
        return len(self.vocab)

    @property
    def special_ids(self) -> tuple[int, ...]:
        return (self.pad_id, self.bos_id, self.eos_id, self.mask_id)

    def tokenize(self, smiles: str) -> list[str]:
        """Split into symbols and check each one is in the vocabulary."""
        tokens = self.split(smiles)
        self._check_symbols(tokens, smiles)
        return tokens

    def _check_symbols(self, tokens: Sequence[str], smiles: str) -> None:
        for token in tokens:
            if token not in self.token_to_id or token in SPECIAL_TOKENS:
                raise TokenizerError(
                    f"{self.representation.upper()} symbol {token!r} of SMILES {smiles!r} is "
                    f"not in the vocabulary of {len(self.vocab)} tokens; retrain or rebuild "
                    "the vocabulary on data that contains it"
                )

    def encode(self, smiles: str, length: int) -> list[int]:
        """Encode as BOS + symbols + EOS, right-padded with PAD to ``length`` ids."""
        return self.encode_symbols(self.split(smiles), length, smiles)

    def encode_symbols(self, tokens: Sequence[str], length: int, smiles: str) -> list[int]:
        """Encode symbols already split from ``smiles`` (named in error messages)."""
        self._check_symbols(tokens, smiles)
        ids = [self.bos_id] + [self.token_to_id[t] for t in tokens] + [self.eos_id]
        if len(ids) > length:
            raise TokenizerError(
                f"SMILES {smiles!r} needs {len(ids)} tokens ({self.representation.upper()} "
                f"symbols with BOS and EOS), more than the sequence length {length}; raise "
                "the length in the data configuration"
            )
        return ids + [self.pad_id] * (length - len(ids))

    def encode_batch(self, smiles: Sequence[str], length: int) -> torch.Tensor:
        """Encode many strings. Returns a LongTensor of shape (N, length)."""
        return torch.tensor([self.encode(s, length) for s in smiles], dtype=torch.long)

    def decode(self, ids: Sequence[int]) -> Decoded:
        """Decode one sample: BOS, symbols up to the first EOS; any special token between is invalid.

        Nothing is stripped: a MASK, PAD or BOS inside the molecule, a missing BOS or a missing
        EOS makes the sample invalid. Tokens after the first EOS are ignored. The result is a
        SMILES string, not yet checked by RDKit.
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
        try:
            return Decoded(self.join([self.vocab[i] for i in body]))
        except TokenizerError as error:
            return Decoded(None, str(error))

    def decode_batch(self, ids: torch.Tensor) -> list[Decoded]:
        """Decode a LongTensor of shape (N, L)."""
        return [self.decode(row) for row in ids.tolist()]

    def to_json(self) -> str:
        return json.dumps({"representation": self.representation, "vocab": self.vocab})

    @staticmethod
    def from_json(text: str) -> Tokenizer:
        """Rebuild from ``to_json`` output; the special tokens must lead the vocabulary."""
        data = json.loads(text)
        return make_tokenizer(data.get("representation", "smiles"), data["vocab"])

    @classmethod
    def from_vocab(cls, vocab: Sequence[str]) -> Tokenizer:
        vocab = list(vocab)
        if tuple(vocab[:4]) != SPECIAL_TOKENS:
            raise TokenizerError(
                f"stored vocabulary must start with {list(SPECIAL_TOKENS)}, got {vocab[:4]}"
            )
        return cls(vocab[4:])


class SmilesTokenizer(Tokenizer):
    """SMILES symbols from the regex above; joining them gives back the exact string."""

    representation = "smiles"

    @staticmethod
    def split(smiles: str) -> list[str]:
        return split_smiles(smiles)

    @staticmethod
    def join(symbols: Sequence[str]) -> str:
        return "".join(symbols)


class SelfiesTokenizer(Tokenizer):
    """SELFIES symbols of the molecule; any sequence of them decodes to a molecule or to nothing.

    Decoded strings are SMILES as the SELFIES decoder writes them (charges as ``[N+1]``); they
    are canonicalised with RDKit before any comparison, like every sample.
    """

    representation = "selfies"

    @staticmethod
    def split(smiles: str) -> list[str]:
        try:
            return list(selfies.split_selfies(selfies.encoder(smiles, strict=True)))
        except selfies.EncoderError as error:
            # the encoder's message spans several lines; keep it on one
            reason = " ".join(str(error).split())
            raise TokenizerError(f"SELFIES {SELFIES_VERSION} cannot encode SMILES {smiles!r}: "
                                 f"{reason}") from None

    @staticmethod
    def join(symbols: Sequence[str]) -> str:
        try:
            smiles = selfies.decoder("".join(symbols))
        except selfies.DecoderError as error:
            raise TokenizerError(f"SELFIES decoder failed: {error}") from None
        if not smiles:
            # strings of only [nop], branch or ring symbols decode to the empty string
            raise TokenizerError("the SELFIES symbols decode to no atoms")
        return smiles


TOKENIZERS: dict[str, type[Tokenizer]] = {"smiles": SmilesTokenizer, "selfies": SelfiesTokenizer}
REPRESENTATIONS = tuple(TOKENIZERS)


def tokenizer_class(representation: str) -> type[Tokenizer]:
    """Return the tokenizer class of a molecule representation: "smiles" or "selfies"."""
    if representation not in TOKENIZERS:
        raise TokenizerError(f"unknown molecule representation {representation!r}; "
                             f"available: {list(REPRESENTATIONS)}")
    return TOKENIZERS[representation]


def make_tokenizer(representation: str, vocab: Sequence[str]) -> Tokenizer:
    """Rebuild a stored tokenizer from its representation name and full vocabulary."""
    return tokenizer_class(representation).from_vocab(vocab)


def tokenizer_from_config(config: dict) -> Tokenizer:
    """Build the tokenizer of a stored model or classifier config from its ``vocab`` and the
    ``representation`` of its ``data`` section. Configs without one are SMILES, because they
    were written before SELFIES was supported."""
    data = config.get("data") or {}
    return make_tokenizer(data.get("representation", "smiles"), config["vocab"])
