"""SELFIES tokenizer: round trips on QM9, decoding of arbitrary symbol strings, the data cache
and a model trained, exported and sampled on SELFIES."""

import logging

import pandas as pd
import pytest
import torch

from molremdm.chem.metrics import evaluate_samples
from molremdm.chem.molecules import canonical_smiles, parse_smiles
from molremdm.chem.tokenizer import (
    SelfiesTokenizer, SmilesTokenizer, Tokenizer, TokenizerError, make_tokenizer,
    tokenizer_from_config,
)
from molremdm.cli import main
from molremdm.data.prepare import DataConfig, prepare_data
from molremdm.models.checkpoint import load_classifier, load_model
from molremdm.training.classifier import classifier_config_from_dict, train_classifier
from molremdm.training.run import config_from_dict, train

# iodine trifluoride: RDKit accepts it, but SELFIES' default constraints allow iodine one bond
HYPERVALENT_IODINE = "FI(F)F"


def round_trip(tokenizer: Tokenizer, smiles: list[str], length: int) -> list[str | None]:
    decoded = tokenizer.decode_batch(tokenizer.encode_batch(smiles, length))
    return [canonical_smiles(d.smiles) for d in decoded]


def test_benzene_kekule_symbols():
    # six atoms with alternating bonds, then a ring bond back over 6 atoms ([=Branch1] = 5)
    assert SelfiesTokenizer.split("c1ccccc1") == [
        "[C]", "[=C]", "[C]", "[=C]", "[C]", "[=C]", "[Ring1]", "[=Branch1]"]


def test_round_trip_qm9_subset(qm9):
    smiles = qm9["smiles"].tolist()[::25]
    tokenizer = SelfiesTokenizer.from_smiles(smiles)
    assert round_trip(tokenizer, smiles, 24) == smiles


@pytest.mark.slow
def test_round_trip_all_qm9(qm9):
    smiles = qm9["smiles"].tolist()
    tokenizer = SelfiesTokenizer.from_smiles(smiles)
    assert max(len(tokenizer.tokenize(s)) for s in smiles) == 21
    assert round_trip(tokenizer, smiles, 24) == smiles


def test_charges_canonicalise_after_decoding():
    tokenizer = SelfiesTokenizer.from_smiles(["C[NH3+]", "CC(=O)[O-]"])
    decoded = tokenizer.decode(tokenizer.encode("C[NH3+]", 8))
    assert decoded.smiles == "C[NH3+1]"
    assert canonical_smiles(decoded.smiles) == "C[NH3+]"
    assert evaluate_samples([decoded.smiles], reference={"C[NH3+]"})["num_novel"] == 0


def test_random_symbols_decode_or_are_empty(qm9):
    tokenizer = SelfiesTokenizer.from_smiles(qm9["smiles"].tolist()[:2000])
    generator = torch.Generator().manual_seed(0)
    first_symbol, vocab_size = 4, len(tokenizer)
    empty = 0
    for _ in range(400):
        size = int(torch.randint(1, 23, (1,), generator=generator))
        body = torch.randint(first_symbol, vocab_size, (size,), generator=generator).tolist()
        decoded = tokenizer.decode([tokenizer.bos_id, *body, tokenizer.eos_id])
        if decoded.smiles is None:
            assert decoded.error == "the SELFIES symbols decode to no atoms"
            empty += 1
        else:
            assert parse_smiles(decoded.smiles) is not None, (body, decoded.smiles)
    assert empty < 40  # only strings led by branch or ring symbols are empty


def test_atomless_string_is_invalid():
    tokenizer = SelfiesTokenizer(["[Branch1]", "[C]", "[Ring1]"])
    ids = [tokenizer.bos_id, tokenizer.token_to_id["[Branch1]"],
           tokenizer.token_to_id["[Ring1]"], tokenizer.eos_id]
    decoded = tokenizer.decode(ids)
    assert decoded.smiles is None
    assert evaluate_samples([decoded.smiles])["validity"] == 0.0


def test_encoder_error_names_molecule():
    assert parse_smiles(HYPERVALENT_IODINE) is not None
    with pytest.raises(TokenizerError, match=r"'FI\(F\)F'.*I with 3 bond"):
        SelfiesTokenizer.split(HYPERVALENT_IODINE)


def test_unknown_symbol_is_named():
    tokenizer = SelfiesTokenizer.from_smiles(["CCO"])
    with pytest.raises(TokenizerError, match=r"SELFIES symbol '\[N\]' of SMILES 'CCN'"):
        tokenizer.encode("CCN", 10)


def test_representation_is_stored():
    selfies = SelfiesTokenizer.from_smiles(["CCO"])
    assert isinstance(Tokenizer.from_json(selfies.to_json()), SelfiesTokenizer)
    config = {"vocab": selfies.vocab, "data": {"representation": "selfies"}}
    assert tokenizer_from_config(config).vocab == selfies.vocab
    assert isinstance(tokenizer_from_config(config), SelfiesTokenizer)
    smiles = SmilesTokenizer.from_smiles(["CCO"])
    # configs written before the representation was stored are SMILES
    assert isinstance(tokenizer_from_config({"vocab": smiles.vocab, "data": None}),
                      SmilesTokenizer)
    with pytest.raises(TokenizerError, match="'inchi'"):
        make_tokenizer("inchi", smiles.vocab)
    with pytest.raises(ValueError, match="unknown representation 'inchi'"):
        DataConfig(representation="inchi")


def test_prepare_drops_unencodable_rows(qm9, tmp_path, caplog, monkeypatch):
    frame = pd.concat([qm9.iloc[:300][["smiles", "ring_count"]],
                       pd.DataFrame({"smiles": [HYPERVALENT_IODINE], "ring_count": [0]})],
                      ignore_index=True)
    config = DataConfig(representation="selfies", cache_dir=str(tmp_path))
    with caplog.at_level(logging.WARNING):
        prepared = prepare_data(config, frame)
    assert "1 of 301 molecules" in caplog.text
    assert prepared.smiles == qm9["smiles"].tolist()[:300]
    assert len(prepared.labels) == len(prepared.tokens) == 300
    decoded = prepared.tokenizer.decode_batch(prepared.tokens)
    assert [canonical_smiles(d.smiles) for d in decoded] == prepared.smiles

    def no_tokenising(*args):
        raise AssertionError("the cached tokens should have been read")

    monkeypatch.setattr("molremdm.data.prepare._tokenize_all", no_tokenising)
    again = prepare_data(config, frame)
    assert again.tokenizer.vocab == prepared.tokenizer.vocab
    assert torch.equal(again.tokens, prepared.tokens)
    assert again.smiles == prepared.smiles
    monkeypatch.undo()
    smiles = prepare_data(DataConfig(cache_dir=str(tmp_path)), frame)
    assert len(smiles.smiles) == 301
    assert set(smiles.tokenizer.vocab[4:]).isdisjoint(prepared.tokenizer.vocab[4:])


@pytest.fixture(scope="module")
def selfies_models(qm9, tmp_path_factory):
    folder = tmp_path_factory.mktemp("selfies")
    frame = qm9.iloc[:2000].reset_index(drop=True)
    data = {"representation": "selfies", "cache_dir": str(folder / "cache")}
    prepared = prepare_data(DataConfig(**data), frame)
    tiny = {"width": 32, "depth": 1, "heads": 2}
    run = {"batch_size": 32, "val_every_steps": 4, "sample_every_validation": 8,
           "precision": "32-true", "output_dir": str(folder)}
    model = train(config_from_dict({"data": data, "network": tiny,
                                    "optim": {"max_steps": 8, "warmup_steps": 1},
                                    "run": {**run, "name": "mdlm"}}), prepared=prepared)
    classifier = train_classifier(classifier_config_from_dict({
        "data": data, "network": tiny, "optim": {"max_steps": 4, "warmup_steps": 1},
        "run": {**run, "name": "clf", "sample_every_validation": 0}}), prepared=prepared)
    smiles_data = prepare_data(DataConfig(cache_dir=str(folder / "cache")), frame)
    smiles_classifier = train_classifier(classifier_config_from_dict({
        "network": tiny, "optim": {"max_steps": 4, "warmup_steps": 1},
        "run": {**run, "name": "clf-smiles", "sample_every_validation": 0}}),
        prepared=smiles_data)
    return model, classifier, smiles_classifier


def test_selfies_model_samples(selfies_models, tmp_path):
    model, classifier, _ = selfies_models
    loaded = load_model(model)
    assert isinstance(loaded.tokenizer, SelfiesTokenizer)
    assert load_classifier(classifier).representation == "selfies"
    out = tmp_path / "s.csv"
    arguments = ["sample", "--checkpoint", str(model), "-n", "16", "--steps", "8",
                 "--no-progress", "--out", str(out), "--guidance", "cbg", "--classifier",
                 str(classifier), "--gamma", "2", "--cbg-approx"]
    assert main(arguments) == 0
    samples = pd.read_csv(out, keep_default_na=False)
    assert len(samples) == 16
    # decoded SELFIES are molecules or empty; none fails RDKit's parser
    written = [s for s in samples["smiles"] if s]
    assert all(parse_smiles(s) is not None for s in written)


def test_other_representation_classifier_rejected(selfies_models, tmp_path, capsys):
    model, _, smiles_classifier = selfies_models
    arguments = ["sample", "--checkpoint", str(model), "-n", "4", "--steps", "4",
                 "--no-progress", "--out", str(tmp_path / "s.csv"), "--guidance", "cbg",
                 "--classifier", str(smiles_classifier), "--gamma", "2"]
    assert main(arguments) == 2
    assert "(smiles, " in capsys.readouterr().err


def test_too_short_length_names_longest_molecule(qm9, tmp_path):
    frame = qm9.iloc[:300][["smiles", "ring_count"]]
    with pytest.raises(TokenizerError, match=r"the longest, '.+', needs \d+ selfies tokens"):
        prepare_data(DataConfig(representation="selfies", length=8, cache_dir=str(tmp_path)),
                     frame)


def test_config_must_match_data_representation(small_data, tmp_path):
    config = config_from_dict({"data": {"representation": "selfies"},
                               "network": {"width": 32, "depth": 1, "heads": 2},
                               "optim": {"max_steps": 2, "warmup_steps": 1},
                               "run": {"output_dir": str(tmp_path), "name": "mismatch"}})
    with pytest.raises(ValueError, match="tokenised as smiles but the data config asks for "
                                         "selfies"):
        train(config, prepared=small_data)
