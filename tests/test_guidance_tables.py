"""The guidance-matrix table script on the published sweep results."""

import subprocess
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).parents[1]
SCRIPT = ROOT / "scripts" / "guidance_tables.py"
PUBLISHED = ROOT / "docs" / "data" / "qm9_ring_guidance_ar.csv"


def run_script(*arguments) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, arguments)],
                          capture_output=True, text=True, cwd=ROOT)


def table_rows(output: str) -> list[list[str]]:
    lines = [line for line in output.splitlines() if line.startswith("| ")]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[1:]]


def test_cells_match_published_rows():
    done = run_script("--property", "ring_count", PUBLISHED)
    assert done.returncode == 0, done.stderr
    rows = table_rows(done.stdout)
    assert [row[:4] for row in rows] == [["AR", "ar", "D-CFG", "23"], ["AR", "ar", "none", "23"]]
    published = pd.read_csv(PUBLISHED)
    gamma3 = published[(published["guidance"] == "cfg") & (published["gamma"] == 3)].iloc[0]
    expected = (f"{100 * gamma3['validity']:.1f} / {gamma3['num_novel']} / "
                f"{gamma3['novel_mean_ring_count']:.2f} / {gamma3['nfe']}")
    header = [cell.strip() for cell in done.stdout.splitlines()[0].strip("|").split("|")]
    assert rows[0][header.index("gamma = 3")] == expected


def test_classifier_calls_follow_nfe(tmp_path):
    published = pd.read_csv(PUBLISHED)
    guided = published.iloc[[1]].assign(sampler="mdlm", guidance="cbg", cbg_mode="exact",
                                        steps=32, nfe=32, classifier_calls=12345.4)
    path = tmp_path / "r.csv"
    guided.to_csv(path, index=False)
    done = run_script("--property", "ring_count", path)
    assert done.returncode == 0, done.stderr
    (row,) = table_rows(done.stdout)
    assert row[:4] == ["MDLM", "mdlm", "D-CBG exact", "32"]
    assert row[4].endswith(" / 32+12,345c")


def test_qed_means_get_three_decimals(tmp_path):
    published = pd.read_csv(PUBLISHED)
    path = tmp_path / "r.csv"
    published.assign(novel_mean_qed=0.48765).to_csv(path, index=False)
    done = run_script("--property", "qed", path)
    assert done.returncode == 0, done.stderr
    assert " / 0.488 / " in table_rows(done.stdout)[0][5]


def test_missing_file_and_property_named(tmp_path):
    missing = run_script("--property", "qed", tmp_path / "none.csv")
    assert missing.returncode != 0
    assert "none.csv" in missing.stderr
    assert "molremdm sweep" in missing.stderr
    unknown = run_script("--property", "logp", PUBLISHED)
    assert unknown.returncode != 0
    assert "novel_mean_logp" in unknown.stderr
