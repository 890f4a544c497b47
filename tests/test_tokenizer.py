import pytest
import torch

from molremdm.chem.tokenizer import SmilesTokenizer, TokenizerError, split_smiles


@pytest.mark.parametrize("smiles, expected", [
    ("ClCBr", ["Cl", "C", "Br"]),
    ("CSc1ccccc1", ["C", "S", "c", "1", "c", "c", "c", "c", "c", "1"]),
    ("C%10CCCCCCCCC%10", ["C", "%10"] + ["C"] * 9 + ["%10"]),
    ("C[C@@H](O)[NH3+]", ["C", "[C@@H]", "(", "O", ")", "[NH3+]"]),
    ("[nH]1cccc1", ["[nH]", "1", "c", "c", "c", "c", "1"]),
])
def test_split_named_cases(smiles, expected):
    tokens = split_smiles(smiles)
    assert tokens == expected
    assert "".join(tokens) == smiles


def test_split_rejects_uncovered_character():
    with pytest.raises(TokenizerError, match="'!' at position 1"):
        split_smiles("C!C")


def test_unknown_symbol_names_symbol_and_molecule():
    tokenizer = SmilesTokenizer.from_smiles(["CCO", "c1ccccc1"])
    with pytest.raises(TokenizerError, match=r"'Cl'.*'CCCl'"):
        tokenizer.encode("CCCl", 10)


def test_too_long_molecule_rejected():
    tokenizer = SmilesTokenizer.from_smiles(["CCCC"])
    with pytest.raises(TokenizerError, match="needs 6 tokens"):
        tokenizer.encode("CCCC", 5)


def test_round_trip_all_qm9(qm9):
    smiles = qm9["smiles"].tolist()
    tokenizer = SmilesTokenizer.from_smiles(smiles)
    ids = tokenizer.encode_batch(smiles, 24)
    decoded = tokenizer.decode_batch(ids)
    assert [d.smiles for d in decoded] == smiles
    assert all(d.error is None for d in decoded)


def test_qm9_needs_at_most_24_ids(qm9):
    tokenizer = SmilesTokenizer.from_smiles(qm9["smiles"])
    assert max(len(tokenizer.tokenize(s)) for s in qm9["smiles"]) + 2 <= 24


def test_decode_cuts_at_first_eos():
    tok = SmilesTokenizer.from_smiles(["CCO"])
    c, o = tok.token_to_id["C"], tok.token_to_id["O"]
    decoded = tok.decode([tok.bos_id, c, o, tok.eos_id, c, tok.mask_id, tok.pad_id])
    assert decoded.smiles == "CO"


@pytest.mark.parametrize("special", ["mask_id", "pad_id", "bos_id"])
def test_special_token_inside_molecule_is_invalid(special):
    tok = SmilesTokenizer.from_smiles(["CCO"])
    c = tok.token_to_id["C"]
    decoded = tok.decode([tok.bos_id, c, getattr(tok, special), c, tok.eos_id, tok.pad_id])
    assert decoded.smiles is None
    assert "special token" in decoded.error


def test_missing_bos_or_eos_is_invalid():
    tok = SmilesTokenizer.from_smiles(["CCO"])
    c = tok.token_to_id["C"]
    assert tok.decode([c, c, tok.eos_id]).smiles is None
    assert tok.decode([tok.bos_id, c, c]).smiles is None


def test_vocabulary_json_round_trip():
    tok = SmilesTokenizer.from_smiles(["CCO", "[NH3+]CC([O-])=O"])
    again = SmilesTokenizer.from_json(tok.to_json())
    assert again.vocab == tok.vocab
    assert torch.equal(again.encode_batch(["CCO"], 8), tok.encode_batch(["CCO"], 8))


def test_stored_vocabulary_must_lead_with_specials():
    with pytest.raises(TokenizerError, match="must start with"):
        SmilesTokenizer.from_vocab(["C", "O"])
