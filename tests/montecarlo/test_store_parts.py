"""Results store: runs that land in parts (begin, save_part, parts, finish) next to the
finished-run behaviour that stays as it was."""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pytest

from liqcascade.io.store import ResultsStore, StoreError, UnknownRunError

RID = "abcdef0123456789"


def part(i: int, n: int = 3) -> pd.DataFrame:
    return pd.DataFrame({"path": np.arange(i * n, (i + 1) * n, dtype=np.int64), "loss": np.arange(n) * 1.5 + i,
                         "flag": np.arange(n) % 2 == 0})


def test_parts_land_register_and_load_in_part_order(tmp_path):
    s = ResultsStore(tmp_path)
    meta = s.begin(RID, "montecarlo", {"x": 1}, {"chunks": 3, "chunk_size": 3})
    assert meta == {"chunks": 3, "chunk_size": 3}
    assert s.status(RID) == "running" and not s.has(RID)
    assert json.loads((tmp_path / "runs" / RID / "run.json").read_text())["status"] == "running"
    # parts land in any order; reading gives part order
    for i in (2, 0):
        assert s.save_part(RID, "paths", i, part(i)) is True
    assert s.parts(RID, "paths") == [0, 2]
    pd.testing.assert_frame_equal(s.load_parts(RID, "paths"), pd.concat([part(0), part(2)], ignore_index=True))
    assert (tmp_path / "runs" / RID / "paths" / "part-00002.parquet").is_file()
    # unfinished: invisible to the finished-run API and to SQL
    with pytest.raises(UnknownRunError):
        s.load(RID, "paths")
    s.save_part(RID, "paths", 1, part(1))
    s.finish(RID, {"risk": pd.DataFrame({"metric": ["bad_debt_usd"], "estimate": [2.0]})}, {"wall_s": 1.0})
    assert s.has(RID) and s.status(RID) == "finished"
    assert s.tables(RID) == ["paths", "risk"]
    full = pd.concat([part(i) for i in range(3)], ignore_index=True)
    pd.testing.assert_frame_equal(s.load(RID, "paths"), full)
    assert s.meta(RID)["meta"] == {"chunks": 3, "chunk_size": 3, "wall_s": 1.0}
    assert json.loads((tmp_path / "runs" / RID / "run.json").read_text())["status"] == "finished"
    got = s.query("SELECT count(*) AS n, sum(loss) AS s FROM paths")
    assert got["n"].iloc[0] == 9 and got["s"].iloc[0] == pytest.approx(full["loss"].sum())
    assert s.list_runs()["status"].tolist() == ["finished"]


def test_a_landed_part_is_never_rewritten(tmp_path):
    s = ResultsStore(tmp_path)
    s.begin(RID, "montecarlo", {}, {"chunk_size": 3})
    s.save_part(RID, "paths", 0, part(0))
    f = tmp_path / "runs" / RID / "paths" / "part-00000.parquet"
    before = (f.stat().st_ino, f.stat().st_mtime_ns, f.read_bytes())
    assert s.save_part(RID, "paths", 0, part(5)) is False
    assert (f.stat().st_ino, f.stat().st_mtime_ns, f.read_bytes()) == before
    pd.testing.assert_frame_equal(s.load_parts(RID, "paths"), part(0))


def test_an_unregistered_part_file_is_replaced(tmp_path):
    """A run killed between the rename and the registration leaves a file that is not a part."""
    s = ResultsStore(tmp_path)
    s.begin(RID, "montecarlo", {}, {})
    folder = tmp_path / "runs" / RID / "paths"
    folder.mkdir()
    (folder / "part-00000.parquet").write_bytes(b"half a file")
    assert s.parts(RID, "paths") == []
    assert s.save_part(RID, "paths", 0, part(0)) is True
    pd.testing.assert_frame_equal(s.load_parts(RID, "paths"), part(0))


def test_begin_again_resumes_and_returns_the_first_meta(tmp_path):
    s = ResultsStore(tmp_path)
    s.begin(RID, "montecarlo", {"x": 1}, {"chunk_size": 7})
    s.save_part(RID, "paths", 0, part(0))
    again = ResultsStore(tmp_path)  # another process, same store
    assert again.begin(RID, "montecarlo", {"x": 2}, {"chunk_size": 9}) == {"chunk_size": 7}
    assert again.info(RID)["config"] == {"x": 1} and again.parts(RID, "paths") == [0]
    assert again.info("ffffffffffffffff") is None
    # runs in progress survive the clean-up of failed saves
    again.remove_partial()
    assert again.parts(RID, "paths") == [0] and (tmp_path / "runs" / RID / "run.json").is_file()


def test_misuse_is_refused(tmp_path):
    s = ResultsStore(tmp_path)
    with pytest.raises(StoreError, match="not running"):
        s.save_part(RID, "paths", 0, part(0))
    s.begin(RID, "montecarlo", {}, {})
    for bad in (-1, 1.0, True):
        with pytest.raises(StoreError, match="part"):
            s.save_part(RID, "paths", bad, part(0))
    with pytest.raises(StoreError):
        s.save_part(RID, "runs", 0, part(0))
    with pytest.raises(StoreError, match="DataFrame"):
        s.save_part(RID, "paths", 0, [1, 2])
    s.finish(RID, {})
    with pytest.raises(StoreError, match="already finished"):
        s.begin(RID, "montecarlo", {}, {})
    with pytest.raises(StoreError, match="not running"):
        s.finish(RID, {})
    with pytest.raises(UnknownRunError):
        s.load_parts("0000000000000000", "paths")
    # nothing refused left a file behind
    assert not list((tmp_path / ".tmp").glob("*")) and os.listdir(tmp_path / "runs") == [RID]
