"""Did the results change? Two runs' data directories compared file by file.

Files are matched by their path relative to each directory (hidden files and directories, whose
names start with ``.``, are a simulation's temp files and are left out). Plain files are compared
by sha256. HDF5 files (``.h5``, ``.hdf5``) are compared by the values of every dataset, never by
their bytes, which change with the library version and timestamps: shapes and dtype kinds must
match, numbers are equal within ``|new - old| <= atol + rtol * |old|`` (numpy's ``allclose``, NaN
equal to NaN), other values (text, booleans, compound) must be equal; attributes are ignored.

Each file gets one verdict: ``identical``, ``equal within tolerance``, ``different`` (with the
datasets that differ), ``missing`` (on one side, named) or ``unreadable`` (the side and the error
named). A file that cannot be read is a named difference, never a crash. h5py and numpy are
imported only when an HDF5 file is compared.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from simwarden.core.errors import UserError
from simwarden.results.values import PathLike

if TYPE_CHECKING:
    import h5py
    import numpy

IDENTICAL = "identical"
WITHIN_TOLERANCE = "equal within tolerance"
DIFFERENT = "different"
MISSING = "missing"
UNREADABLE = "unreadable"
# Verdicts that count as "the results changed" (bench compare --check exits 1 on them).
DIFFERS = frozenset((DIFFERENT, MISSING, UNREADABLE))
HDF5_SUFFIXES = (".h5", ".hdf5")
# Compared by their pixels: their bytes also hold metadata (the figure's provenance, the
# matplotlib version) that differs between commits when the picture does not.
IMAGE_SUFFIXES = (".png",)
# numpy.allclose's own defaults.
DEFAULT_RTOL = 1e-05
DEFAULT_ATOL = 1e-08
_NUMERIC_KINDS = "iufc"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class DatasetDifference:
    """One dataset of an HDF5 file that is not equal on both sides (or only within tolerance).

    ``detail`` says how: ``max |diff| 0.5``, ``shape (3,) -> (4,)``, ``dtype float64 -> int64``,
    ``only in v1``, ``3 of 10 values differ``. ``max_abs_diff`` is the largest absolute
    difference of numbers (finite on both sides), None when not numeric or not comparable.
    """

    path: str
    detail: str
    max_abs_diff: float | None = None

    def describe(self) -> str:
        """``/rates: max |diff| 0.5``."""
        return f"{self.path}: {self.detail}"


@dataclass(frozen=True)
class FileComparison:
    """One file (path relative to both data directories, with ``/``) and its verdict.

    ``side`` names the side a ``missing`` file is absent from, or an ``unreadable`` file could not
    be read on; ``error`` is the reading error. ``datasets`` are the HDF5 datasets that differ
    (``different``), or those equal only within tolerance (``equal within tolerance``).
    """

    path: str
    verdict: str
    datasets: tuple[DatasetDifference, ...] = ()
    side: str | None = None
    error: str | None = None
    detail: str | None = None

    @property
    def differs(self) -> bool:
        """The file is different, missing on one side or unreadable."""
        return self.verdict in DIFFERS

    def describe(self) -> str:
        """One line: ``output.h5: different (/rates: max |diff| 0.5)``,
        ``extra.txt: missing in v2``, ``output.h5: unreadable in v2 (OSError: ...)``."""
        head = f"{self.path}: {self.verdict}"
        if self.verdict == MISSING:
            return f"{head} in {self.side}"
        if self.verdict == UNREADABLE:
            return f"{head} in {self.side} ({self.error})"
        if self.verdict == WITHIN_TOLERANCE and self.datasets:
            largest = max(d.max_abs_diff or 0.0 for d in self.datasets)
            return f"{head} (max |diff| {largest:.3g})"
        if self.verdict == DIFFERENT and self.datasets:
            return f"{head} ({'; '.join(d.describe() for d in self.datasets)})"
        return f"{head} ({self.detail})" if self.detail else head


@dataclass(frozen=True)
class OutputComparison:
    """Two data directories compared file by file, in path order."""

    old: Path
    new: Path
    labels: tuple[str, str]
    rtol: float
    atol: float
    files: tuple[FileComparison, ...]

    @property
    def differs(self) -> bool:
        """Any file is different, missing on one side or unreadable."""
        return any(item.differs for item in self.files)

    @property
    def different_files(self) -> list[FileComparison]:
        """The files that differ (see :attr:`FileComparison.differs`)."""
        return [item for item in self.files if item.differs]

    def describe(self) -> str:
        """``3 files: 2 identical, 1 different``, or ``no output files``."""
        return count_verdicts([item.verdict for item in self.files])


def count_verdicts(verdicts: Sequence[str]) -> str:
    """``3 files: 2 identical, 1 different`` (verdicts in their first order), or ``no output
    files`` for none."""
    if not verdicts:
        return "no output files"
    counts: dict[str, int] = {}
    for verdict in verdicts:
        counts[verdict] = counts.get(verdict, 0) + 1
    listed = ", ".join(f"{count} {verdict}" for verdict, count in counts.items())
    return f"{len(verdicts)} file{'s' if len(verdicts) != 1 else ''}: {listed}"


def check_tolerance(option: str, value: float) -> float:
    """``value`` when it is a finite number >= 0, else a UserError naming ``option``."""
    if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
        raise UserError(f"{option} {value}: use a number >= 0, e.g. 1e-05")
    return float(value)


def compare_outputs(
    old_dir: PathLike,
    new_dir: PathLike,
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
    labels: tuple[str, str] = ("OLD", "NEW"),
) -> OutputComparison:
    """Compare every file under ``old_dir`` with the file at the same relative path under
    ``new_dir`` (see the module's docstring); ``labels`` name the two sides in the verdicts.

    A directory that does not exist holds no files: every file of the other side is then
    ``missing`` in it. Raises UserError only for a negative or non-finite tolerance.
    """
    rtol, atol = check_tolerance("--rtol", rtol), check_tolerance("--atol", atol)
    old, new = Path(old_dir), Path(new_dir)
    old_files, new_files = set(_files(old)), set(_files(new))
    results = []
    for rel in sorted(old_files | new_files):
        if rel not in new_files:
            results.append(FileComparison(rel, MISSING, side=labels[1]))
        elif rel not in old_files:
            results.append(FileComparison(rel, MISSING, side=labels[0]))
        elif rel.lower().endswith(HDF5_SUFFIXES):
            results.append(_compare_hdf5(rel, old / rel, new / rel, (rtol, atol), labels))
        elif rel.lower().endswith(IMAGE_SUFFIXES):
            results.append(_compare_image(rel, old / rel, new / rel, labels))
        else:
            results.append(_compare_plain(rel, old / rel, new / rel, labels))
    return OutputComparison(old, new, labels, rtol, atol, tuple(results))


def _files(directory: Path) -> Iterator[str]:
    """The relative paths (with ``/``) of the regular files under ``directory``, hidden left out."""
    if not directory.is_dir():
        return
    for path in directory.rglob("*"):
        rel = path.relative_to(directory)
        if path.is_file() and not any(part.startswith(".") for part in rel.parts):
            yield rel.as_posix()


def _error(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


def _compare_plain(rel: str, old: Path, new: Path, labels: tuple[str, str]) -> FileComparison:
    digests = []
    for side, path in zip(labels, (old, new), strict=True):
        try:
            digests.append(_sha256(path))
        except OSError as error:
            return FileComparison(rel, UNREADABLE, side=side, error=_error(error))
    if digests[0] == digests[1]:
        return FileComparison(rel, IDENTICAL)
    sizes = f"{old.stat().st_size} -> {new.stat().st_size} bytes"
    return FileComparison(rel, DIFFERENT, detail=f"content differs, {sizes}")


def _compare_image(rel: str, old: Path, new: Path, labels: tuple[str, str]) -> FileComparison:
    """Same bytes: identical. Else by pixels (metadata ignored): identical when every pixel is
    equal, else different with how many pixels differ; unreadable names the side."""
    plain = _compare_plain(rel, old, new, labels)
    if plain.verdict != DIFFERENT:
        return plain
    from matplotlib import image

    pixels = []
    for side, path in zip(labels, (old, new), strict=True):
        try:
            pixels.append(image.imread(path))
        except (OSError, ValueError, SyntaxError) as error:
            return FileComparison(rel, UNREADABLE, side=side, error=_error(error))
    verdict = (
        _compare_exact("pixels", pixels[0], pixels[1])
        if (pixels[0].shape == pixels[1].shape)
        else (False, DatasetDifference("pixels", f"size {pixels[0].shape} -> {pixels[1].shape}"))
    )
    if verdict is None:
        return FileComparison(rel, IDENTICAL)
    return FileComparison(rel, DIFFERENT, detail=verdict[1].detail)


def _compare_hdf5(
    rel: str, old: Path, new: Path, tolerance: tuple[float, float], labels: tuple[str, str]
) -> FileComparison:
    import h5py

    handles: list[h5py.File] = []
    try:
        for side, path in zip(labels, (old, new), strict=True):
            try:
                handles.append(h5py.File(path, "r"))
            except (OSError, ValueError, RuntimeError) as error:
                return FileComparison(rel, UNREADABLE, side=side, error=_error(error))
        return _compare_files(rel, handles[0], handles[1], tolerance, labels)
    finally:
        for handle in handles:
            handle.close()


def _datasets(handle: h5py.File) -> dict[str, h5py.Dataset]:
    import h5py

    found: dict[str, h5py.Dataset] = {}

    def visit(name: str, item: object) -> None:
        if isinstance(item, h5py.Dataset):
            found[f"/{name}"] = item

    handle.visititems(visit)
    return found


def _compare_files(
    rel: str,
    old: h5py.File,
    new: h5py.File,
    tolerance: tuple[float, float],
    labels: tuple[str, str],
) -> FileComparison:
    """The verdict of two open HDF5 files: every dataset on either side, in path order."""
    side = labels[0]
    try:
        old_sets, side = _datasets(old), labels[1]
        new_sets = _datasets(new)
        differences: list[DatasetDifference] = []
        within: list[DatasetDifference] = []
        for path in sorted(old_sets.keys() | new_sets.keys()):
            if path not in new_sets or path not in old_sets:
                present = labels[0] if path in old_sets else labels[1]
                differences.append(DatasetDifference(path, f"only in {present}"))
                continue
            side = labels[0]
            old_values = _read(old_sets[path])
            side = labels[1]
            new_values = _read(new_sets[path])
            found = _compare_values(path, old_values, new_values, tolerance)
            if found is not None:
                (within if found[0] else differences).append(found[1])
    except (OSError, ValueError, RuntimeError, KeyError, TypeError) as error:
        return FileComparison(rel, UNREADABLE, side=side, error=_error(error))
    if differences:
        return FileComparison(rel, DIFFERENT, tuple(differences))
    if within:
        return FileComparison(rel, WITHIN_TOLERANCE, tuple(within))
    return FileComparison(rel, IDENTICAL)


def _read(dataset: h5py.Dataset) -> numpy.ndarray[Any, Any] | None:
    """The dataset's values as an array; None for an empty (null-dataspace) dataset."""
    import numpy as np

    if dataset.shape is None:
        return None
    return np.asarray(dataset[()])


def _compare_values(
    path: str,
    old: numpy.ndarray[Any, Any] | None,
    new: numpy.ndarray[Any, Any] | None,
    tolerance: tuple[float, float],
) -> tuple[bool, DatasetDifference] | None:
    """None when equal; ``(True, difference)`` when equal only within tolerance; ``(False,
    difference)`` when different."""
    if old is None or new is None:
        if old is None and new is None:
            return None
        return False, DatasetDifference(path, "empty on one side")
    if old.shape != new.shape:
        return False, DatasetDifference(path, f"shape {old.shape} -> {new.shape}")
    if old.dtype.kind != new.dtype.kind:
        return False, DatasetDifference(path, f"dtype {old.dtype} -> {new.dtype}")
    if old.dtype.kind in _NUMERIC_KINDS:
        return _compare_numbers(path, old, new, tolerance)
    return _compare_exact(path, old, new)


def _compare_numbers(
    path: str,
    old: numpy.ndarray[Any, Any],
    new: numpy.ndarray[Any, Any],
    tolerance: tuple[float, float],
) -> tuple[bool, DatasetDifference] | None:
    import numpy as np

    nan = old.dtype.kind in "fc"
    if np.array_equal(old, new, equal_nan=nan):
        return None
    wide = np.complex128 if old.dtype.kind == "c" else np.float64
    before, after = old.astype(wide), new.astype(wide)
    both = np.isfinite(before) & np.isfinite(after)
    largest = float(np.max(np.abs(after[both] - before[both]), initial=0.0))
    mismatched = int(np.count_nonzero(~both & ~_same(before, after)))
    detail = f"max |diff| {largest:.3g}"
    if mismatched:
        detail += f"; {mismatched} NaN/inf value{'s' if mismatched != 1 else ''} not matched"
    close = np.allclose(after, before, rtol=tolerance[0], atol=tolerance[1], equal_nan=True)
    return bool(close), DatasetDifference(path, detail, largest)


def _same(before: numpy.ndarray[Any, Any], after: numpy.ndarray[Any, Any]) -> Any:
    """Elementwise: equal, or NaN on both sides."""
    import numpy as np

    return (before == after) | (np.isnan(before) & np.isnan(after))


def _compare_exact(
    path: str, old: numpy.ndarray[Any, Any], new: numpy.ndarray[Any, Any]
) -> tuple[bool, DatasetDifference] | None:
    """Text, booleans, compound and other values: equal or not, with how many elements differ."""
    import numpy as np

    try:
        equal = np.asarray(old == new)
    except (TypeError, ValueError):
        equal = np.asarray(old.tobytes() == new.tobytes())
    if equal.shape != old.shape:  # numpy could not compare elementwise: one answer for all
        same = bool(equal.all())
        return None if same else (False, DatasetDifference(path, "values differ"))
    count = int(np.count_nonzero(~equal))
    if count == 0:
        return None
    return False, DatasetDifference(path, f"{count} of {old.size} values differ")
