"""Did the results change? Two data directories of real files compared file by file."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest

from simwarden.core.errors import UserError
from simwarden.results import outputs
from simwarden.results.outputs import DatasetDifference, FileComparison, compare_outputs


def h5(path: Path, **datasets: Any) -> Path:
    """A real HDF5 file; ``a__b`` names dataset ``a/b``; an attribute that differs per call."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as f:
        f.attrs["written"] = str(path)  # attributes are ignored
        for name, values in datasets.items():
            f.create_dataset(name.replace("__", "/"), data=values)
    return path


def text(path: Path, content: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content, encoding="utf-8")
    return path


def sides(tmp_path: Path) -> tuple[Path, Path]:
    return tmp_path / "v1", tmp_path / "v2"


def only(tmp_path: Path, **tolerance: float) -> FileComparison:
    old, new = sides(tmp_path)
    result = compare_outputs(old, new, labels=("v1", "v2"), **tolerance)
    assert len(result.files) == 1, result.files
    return result.files[0]


def test_identical_hdf5_values_in_files_whose_bytes_differ(tmp_path: Path) -> None:
    old, new = sides(tmp_path)
    values = {"rates": [1.0, math.nan, 3.0], "net__weights": np.eye(2), "n": np.int64(3)}
    a, b = h5(old / "output.h5", **values), h5(new / "output.h5", **values)
    assert a.read_bytes() != b.read_bytes()  # the attribute differs: never compared by bytes
    found = only(tmp_path)
    assert found == FileComparison("output.h5", "identical")
    assert found.describe() == "output.h5: identical" and not found.differs


def test_equal_within_tolerance_and_the_tolerance_is_settable(tmp_path: Path) -> None:
    old, new = sides(tmp_path)
    h5(old / "output.h5", rates=[1.0, 2.0], n=[1, 2])
    h5(new / "output.h5", rates=[1.0, 2.0 + 1e-9], n=[1, 2])
    found = only(tmp_path)
    assert found.verdict == "equal within tolerance" and not found.differs
    assert found.describe() == "output.h5: equal within tolerance (max |diff| 1e-09)"
    assert [d.path for d in found.datasets] == ["/rates"]
    tight = only(tmp_path, rtol=0, atol=1e-12)
    assert tight.describe() == "output.h5: different (/rates: max |diff| 1e-09)"
    assert tight.differs
    with pytest.raises(UserError, match=r"^--rtol -1: use a number >= 0, e\.g\. 1e-05$"):
        compare_outputs(old, new, rtol=-1)
    with pytest.raises(UserError, match=r"^--atol nan: use a number >= 0"):
        compare_outputs(old, new, atol=math.nan)


def test_one_dataset_different_is_named_exactly(tmp_path: Path) -> None:
    old, new = sides(tmp_path)
    same = {"spikes__times": [0.1, 0.2], "labels": np.array([b"a", b"b"])}
    h5(old / "run" / "output.h5", rates=[1.0, 2.0, 3.0], **same)
    h5(new / "run" / "output.h5", rates=[1.0, 2.5, 3.0], **same)
    found = only(tmp_path)
    assert found.verdict == "different"
    assert found.datasets == (DatasetDifference("/rates", "max |diff| 0.5", 0.5),)
    assert found.describe() == "run/output.h5: different (/rates: max |diff| 0.5)"


def test_shape_dtype_text_and_nan_differences(tmp_path: Path) -> None:
    old, new = sides(tmp_path)
    h5(
        old / "out.hdf5",
        a=[1.0, 2.0],
        b=np.array([1, 2], dtype=np.int32),
        c=np.array([1.0, 2.0], dtype=np.float32),
        d=[math.nan, 1.0],
        s=np.array([b"x", b"y", b"z"]),
        f=[True, False],
    )
    h5(
        new / "out.hdf5",
        a=[1.0, 2.0, 3.0],
        b=[1.0, 2.0],
        c=np.array([1.0, 2.0], dtype=np.float64),  # same kind: compared by value
        d=[1.0, 1.0],
        s=np.array([b"x", b"q", b"z"]),
        f=[True, True],
    )
    assert only(tmp_path).describe() == (
        "out.hdf5: different (/a: shape (2,) -> (3,); /b: dtype int32 -> float64; "
        "/d: max |diff| 0; 1 NaN/inf value not matched; /f: 1 of 2 values differ; "
        "/s: 1 of 3 values differ)"
    )


def test_a_dataset_missing_on_one_side(tmp_path: Path) -> None:
    old, new = sides(tmp_path)
    h5(old / "output.h5", rates=[1.0], gone=[2.0])
    h5(new / "output.h5", rates=[1.0], group__added=[3.0])
    found = only(tmp_path)
    assert found.datasets == (
        DatasetDifference("/gone", "only in v1"),
        DatasetDifference("/group/added", "only in v2"),
    )
    assert found.describe() == (
        "output.h5: different (/gone: only in v1; /group/added: only in v2)"
    )


def test_a_corrupt_hdf5_file_is_unreadable_and_named(tmp_path: Path) -> None:
    old, new = sides(tmp_path)
    h5(old / "output.h5", rates=[1.0])
    text(new / "output.h5", "not an HDF5 file\n")
    found = only(tmp_path)
    assert (found.verdict, found.side, found.differs) == ("unreadable", "v2", True)
    line = found.describe()
    assert line.startswith("output.h5: unreadable in v2 (OSError: Unable to ")
    assert line.endswith("(file signature not found))")


def test_plain_files_by_content_and_files_on_one_side(tmp_path: Path) -> None:
    old, new = sides(tmp_path)
    text(old / "summary.txt", "rate 1.0\n")
    text(new / "summary.txt", "rate 1.5\n!\n")
    text(old / "same.csv", "a,b\n1,2\n")
    text(new / "same.csv", "a,b\n1,2\n")
    text(old / "figs" / "old.png", "png")
    text(new / "extra.json", "{}")
    text(new / ".output.h5.partial", "a simulation's temp file: left out")
    text(new / ".cache" / "x", "left out")
    result = compare_outputs(old, new, labels=("v1", "v2"))
    assert [item.describe() for item in result.files] == [
        "extra.json: missing in v1",
        "figs/old.png: missing in v2",
        "same.csv: identical",
        "summary.txt: different (content differs, 9 -> 11 bytes)",
    ]
    assert result.differs
    assert [item.path for item in result.different_files] == [
        "extra.json",
        "figs/old.png",
        "summary.txt",
    ]
    assert result.describe() == "4 files: 2 missing, 1 identical, 1 different"


def test_a_missing_directory_holds_no_files(tmp_path: Path) -> None:
    old, new = sides(tmp_path)
    h5(old / "output.h5", rates=[1.0])
    result = compare_outputs(old, new)
    assert [item.describe() for item in result.files] == ["output.h5: missing in NEW"]
    empty = compare_outputs(tmp_path / "none", tmp_path / "neither")
    assert (empty.files, empty.differs, empty.describe()) == ((), False, "no output files")
    assert {"different", "missing", "unreadable"} == outputs.DIFFERS


def _save_png(path: Path, pixels: np.ndarray[Any, Any], commit: str) -> None:
    """A PNG as simwarden's figure hook saves one: the pixels plus a provenance text chunk."""
    from matplotlib import image

    path.parent.mkdir(parents=True, exist_ok=True)
    image.imsave(
        path, pixels, vmin=0.0, vmax=1.0, metadata={"simwarden": f'{{"commit": "{commit}"}}'}
    )


def test_png_files_are_compared_by_their_pixels_not_their_metadata(tmp_path: Path) -> None:
    ramp = np.linspace(0.0, 1.0, 24, dtype=np.float64).reshape(4, 6)
    _save_png(tmp_path / "v1" / "raster.png", ramp, "aaa")
    _save_png(tmp_path / "v2" / "raster.png", ramp, "bbb")  # same picture, other provenance
    changed = ramp.copy()
    changed[0, 0] = 1.0
    _save_png(tmp_path / "v1" / "rates.png", ramp, "aaa")
    _save_png(tmp_path / "v2" / "rates.png", changed, "bbb")
    (tmp_path / "v1" / "torn.png").write_bytes(b"\x89PNG\r\n")
    (tmp_path / "v2" / "torn.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    assert (tmp_path / "v1" / "raster.png").read_bytes() != (
        tmp_path / "v2" / "raster.png"
    ).read_bytes()

    result = compare_outputs(tmp_path / "v1", tmp_path / "v2", labels=("v1", "v2"))

    by_path = {file.path: file for file in result.files}
    assert by_path["raster.png"] == FileComparison("raster.png", "identical")
    assert by_path["rates.png"].verdict == "different"
    # One pixel of 4 x 6 RGBA changed colour: its R, G and B values; alpha stays 1.
    assert by_path["rates.png"].detail == "3 of 96 values differ"
    assert by_path["torn.png"].verdict == "unreadable"
    assert by_path["torn.png"].side == "v1"
