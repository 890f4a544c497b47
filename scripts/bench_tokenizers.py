"""Time the SMILES and SELFIES tokenizers on QM9: encoding canonical SMILES to ids and decoding
ids back to SMILES, in molecules per second on one core.

Usage:
    python scripts/bench_tokenizers.py [--molecules 20000] [--repeats 3]

Encoding is what preparing a data set costs once (the result is cached); decoding runs on
every batch of samples. Timings are medians of ``--repeats`` runs after one warm-up run.
"""

from __future__ import annotations

import argparse
import platform

from molremdm.chem.tokenizer import SELFIES_VERSION, tokenizer_class
from molremdm.data.qm9 import load_qm9
from molremdm.experiments.bench import median_seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--molecules", type=int, default=20_000,
                        help="QM9 molecules to encode and decode (every k-th of the table)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per measurement")
    args = parser.parse_args()

    smiles = load_qm9()["smiles"].tolist()
    smiles = smiles[::max(1, len(smiles) // args.molecules)][:args.molecules]
    print(f"{len(smiles)} QM9 molecules, SELFIES {SELFIES_VERSION}, "
          f"{platform.processor() or platform.machine()}")
    for representation in ("smiles", "selfies"):
        tokenizer = tokenizer_class(representation).from_smiles(smiles)
        ids = tokenizer.encode_batch(smiles, 24)
        encode = median_seconds(lambda: tokenizer.encode_batch(smiles, 24), args.repeats,
                                warmup=1)
        decode = median_seconds(lambda: tokenizer.decode_batch(ids), args.repeats, warmup=1)
        print(f"{representation:>8}: {len(tokenizer) - 4} symbols, encode "
              f"{len(smiles) / encode:,.0f} molecules/s, decode {len(smiles) / decode:,.0f} "
              "molecules/s")


if __name__ == "__main__":
    main()
