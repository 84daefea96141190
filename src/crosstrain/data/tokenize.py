"""One framework-neutral tokenizer, so TensorFlow and PyTorch train on identical integer arrays.

The rule, applied the same way to every split and at serving time:

1. Unicode NFC normalisation, so "café" typed with a combining accent equals the precomposed one.
2. Optional lowercasing (`TextConfig.lowercase`).
3. Tokens are `re.findall(r"\\w+|[^\\w\\s]", text)`: runs of Unicode letters, digits and underscores,
   or any single other non-space character. "Don't!" becomes ["don", "'", "t", "!"]; every text that
   is not blank yields at least one token.

The vocabulary is fitted on the train split only: id 0 is `<pad>`, id 1 is `<unk>`, then every train
token seen at least `min_freq` times, most frequent first, ties in alphabetical order (so the ids are
deterministic), capped at `vocab_size` entries in total. `encode` keeps the first `seq_len` tokens and
pads at the end with 0 ("post" padding, as Keras' TextVectorization does).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

PAD, UNK = "<pad>", "<unk>"
PAD_ID, UNK_ID = 0, 1
TOKEN_PATTERN = re.compile(r"\w+|[^\w\s]")
# Review exports (Amazon, IMDB) keep HTML line breaks; as tokens they would be among the most frequent.
HTML_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)
RULE = (
    r"NFC, <br /> -> space, optional lowercase, tokens = \w+|[^\w\s]; vocab from train: 0 <pad>, 1 <unk>, "
    "count >= min_freq by count desc (ties alphabetical), capped at vocab_size; truncate and pad at the end"
)


def tokenize(text: str, lowercase: bool = True) -> list[str]:
    """Split one text into tokens by the module's rule."""
    text = HTML_BREAK.sub(" ", unicodedata.normalize("NFC", text))
    if lowercase:
        text = text.lower()
    return TOKEN_PATTERN.findall(text)


@dataclass(frozen=True)
class Tokenizer:
    """A fitted vocabulary plus the settings that turn texts into fixed-length id sequences.

    Attributes:
        vocab: Tokens by id; vocab[0] is PAD and vocab[1] is UNK.
        seq_len: Length of every encoded sequence.
        lowercase: Whether texts are lowercased before splitting.
    """

    vocab: tuple[str, ...]
    seq_len: int
    lowercase: bool = True
    _ids: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.vocab[:2] != (PAD, UNK):
            raise ValueError(f"vocab must start with {PAD!r}, {UNK!r}; got {list(self.vocab[:2])}")
        if self.seq_len < 1:
            raise ValueError(f"seq_len must be positive, got {self.seq_len}")
        object.__setattr__(self, "vocab", tuple(self.vocab))
        object.__setattr__(self, "_ids", {token: i for i, token in enumerate(self.vocab)})

    @classmethod
    def fit(
        cls, texts: Iterable[str], *, vocab_size: int, min_freq: int, seq_len: int, lowercase: bool = True
    ) -> Tokenizer:
        """Fit the vocabulary on `texts` (the train split only).

        Args:
            texts: The training texts.
            vocab_size: Most entries in the vocabulary, PAD and UNK included (at least 2).
            min_freq: Tokens seen fewer times than this map to UNK.
            seq_len: Length of every encoded sequence.
            lowercase: Lowercase before splitting.
        """
        if vocab_size < 2:
            raise ValueError(f"vocab_size must be at least 2 to hold {PAD} and {UNK}, got {vocab_size}")
        counts = Counter(token for text in texts for token in tokenize(text, lowercase))
        kept = sorted((t for t, n in counts.items() if n >= min_freq), key=lambda t: (-counts[t], t))
        return cls((PAD, UNK, *kept[: vocab_size - 2]), seq_len=seq_len, lowercase=lowercase)

    def __len__(self) -> int:
        return len(self.vocab)

    def tokens(self, text: str) -> list[str]:
        """The tokens of one text, with this tokenizer's casing."""
        return tokenize(text, self.lowercase)

    def ids(self, text: str) -> list[int]:
        """Every token's id, untruncated; unknown tokens are UNK_ID."""
        return [self._ids.get(token, UNK_ID) for token in self.tokens(text)]

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """int64 ids of shape (len(texts), seq_len): the first seq_len tokens, then PAD_ID padding."""
        out = np.full((len(texts), self.seq_len), PAD_ID, dtype=np.int64)
        for row, text in enumerate(texts):
            ids = self.ids(text)[: self.seq_len]
            out[row, : len(ids)] = ids
        return out

    def stats(self, texts: Sequence[str]) -> dict[str, float]:
        """How well the vocabulary and seq_len fit `texts`.

        Returns:
            {"oov_rate": fraction of all tokens (before truncation) that map to UNK,
             "truncated": fraction of texts with more than seq_len tokens}; 0.0 for no texts.
        """
        ids = [self.ids(text) for text in texts]
        n_tokens = sum(map(len, ids))
        unknown = sum(i == UNK_ID for seq in ids for i in seq)
        long = sum(len(seq) > self.seq_len for seq in ids)
        return {
            "oov_rate": unknown / n_tokens if n_tokens else 0.0,
            "truncated": long / len(ids) if ids else 0.0,
        }
