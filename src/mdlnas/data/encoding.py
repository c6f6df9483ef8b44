"""A table's feature columns as numbers: categories one-hot, gaps filled, fitted on training rows.

A :class:`FeatureEncoding` is fitted once, on the rows a dataset trains on, and then applied
to every other row of that dataset and to every file predicted later, so that a column
means the same thing everywhere. It is plain data: ``encoding.json`` in a run directory
(see :data:`ENCODING_FILE`) holds it, and ``mdlnas predict`` / ``mdlnas export`` read it
from there.

* A column whose cells are all numbers (missing cells aside) is numeric. A numeric column
  holding a few texts is taken for a typing error and refused, naming the first text; a
  column of texts is categorical. Semicolon-separated files written with a decimal comma
  (``1,5``) hold numbers too.
* A categorical column becomes one 0/1 column per category seen in the training rows
  (sorted). Rows of the same dataset whose category the training rows never had get all
  zeros there, as scikit-learn's ``OneHotEncoder(handle_unknown="ignore")`` does; files to
  predict are stricter: an unknown category is an error that names it.
* Missing cells are an error unless an imputation is asked for: numeric columns then get
  the mean or median of their training rows, categorical ones all zeros ("none of the
  known categories").
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from numpy.typing import NDArray

from mdlnas.data.config import IMPUTE_OPTIONS, ImputeOption
from mdlnas.errors import DataError

if TYPE_CHECKING:  # pandas is imported where a table is read: most commands need none
    import pandas as pd

ENCODING_FILE = "encoding.json"
SCHEMA = "mdlnas.encoding"
VERSION = 1
# A column of texts with more distinct values than this is an identifier or free text, not
# a category: one-hot encoding it would add a weight per row and learn nothing.
MAX_CATEGORIES = 100
_DECIMAL_COMMA = re.compile(r"^[+-]?\d*,\d+(?:[eE][+-]?\d+)?$")

Unknown = Literal["error", "ignore"]


@dataclass(frozen=True)
class Column:
    """One feature column: numeric (``categories`` is None) or categorical; ``fill`` is
    the value that replaces a missing numeric cell (None: missing cells are refused)."""

    name: str
    categories: tuple[str, ...] | None = None
    fill: float | None = None

    @property
    def width(self) -> int:
        return 1 if self.categories is None else len(self.categories)


@dataclass(frozen=True)
class FeatureEncoding:
    """How the feature columns of a table become the numbers a network reads.

    ``target`` is the training file's target column, which files to predict may hold and
    which is then ignored. ``headerless``: the training file had no header row (the UCR
    layout), so columns are named by position and matched by position.
    """

    columns: tuple[Column, ...]
    target: str | None = None
    headerless: bool = False
    impute: ImputeOption | None = None
    decimal_comma: bool = False

    @property
    def width(self) -> int:
        """Numbers per row after encoding."""
        return sum(column.width for column in self.columns)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)

    @property
    def categorical(self) -> bool:
        return any(column.categories is not None for column in self.columns)

    @property
    def output_names(self) -> tuple[str, ...]:
        """A name per encoded number: ``column`` or ``column=category``."""
        out: list[str] = []
        for column in self.columns:
            if column.categories is None:
                out.append(column.name)
            else:
                out.extend(f"{column.name}={category}" for category in column.categories)
        return tuple(out)

    # -- fitting and applying --------------------------------------------------------------
    @classmethod
    def fit(
        cls,
        features: pd.DataFrame,
        fit_rows: NDArray[np.int64],
        *,
        source: str,
        impute: ImputeOption | None = None,
        target: str | None = None,
        headerless: bool = False,
        decimal_comma: bool = False,
        numeric_only: bool = False,
    ) -> FeatureEncoding:
        """Fit on the rows ``fit_rows`` of ``features`` (every column a feature).

        ``numeric_only`` (signals: a column is a time step) refuses categorical columns.
        """
        if impute is not None and impute not in IMPUTE_OPTIONS:
            raise DataError(f"impute must be one of {', '.join(IMPUTE_OPTIONS)}; got {impute!r}")
        features = _named(features)
        columns = []
        for name in features.columns:
            cells = _read_cells(features[name], decimal_comma)
            n_bad, n_present = int(cells.bad.sum()), int((~cells.missing).sum())
            # A few texts among numbers are typing errors; mostly texts make categories.
            if n_bad and (numeric_only or n_bad * 2 < n_present):
                row = int(np.flatnonzero(cells.bad)[0])
                remedy = (
                    "with --signal every feature column is a time step and must be numeric"
                    if numeric_only
                    else "a numeric column must hold numbers only (fix or drop that row)"
                )
                raise DataError(
                    f"{source}: column {name!r} holds the non-numeric value "
                    f"{cells.text(row)!r} at data row {row + 1}; {remedy}"
                )
            if n_bad:
                columns.append(Column(str(name), _categories(name, cells, fit_rows, source)))
            else:
                fill = _fill(name, cells.values[fit_rows], impute, source)
                columns.append(Column(str(name), None, fill))
        return cls(tuple(columns), target, headerless, impute, decimal_comma)

    def transform(
        self, features: pd.DataFrame, *, source: str, unknown: Unknown = "error"
    ) -> NDArray[np.float64]:
        """``features`` (columns by this encoding's names, any others ignored) as an array
        ``(n, width)``. ``unknown="ignore"`` encodes categories the training rows lacked
        as zeros (the dataset's own held-out rows); ``"error"`` refuses them."""
        features = _named(features)
        missing = [name for name in self.names if name not in features.columns]
        if missing:
            raise DataError(
                f"{source} lacks the feature column(s) {_listing(missing)} the model was "
                f"trained on; give the training file's feature columns "
                f"({_listing(self.names)}) by name, in any order"
            )
        blocks = [
            self._column(column, _read_cells(features[column.name], self.decimal_comma),
                         source, unknown)
            for column in self.columns
        ]
        n = len(features)
        return np.concatenate(blocks, axis=1) if blocks else np.zeros((n, 0))

    def _column(
        self, column: Column, cells: _Cells, source: str, unknown: Unknown
    ) -> NDArray[np.float64]:
        if cells.missing.any() and self.impute is None:
            row = int(np.flatnonzero(cells.missing)[0])
            raise DataError(
                f"{source}: column {column.name!r} is missing a value at data row {row + 1} "
                f"({int(cells.missing.sum())} missing in all); fill or drop such rows, or "
                "impute them with --impute mean|median (impute='mean' in Python)"
            )
        if column.categories is None:
            if cells.bad.any():
                row = int(np.flatnonzero(cells.bad)[0])
                raise DataError(
                    f"{source}: column {column.name!r} holds the non-numeric value "
                    f"{cells.text(row)!r} at data row {row + 1}; the model was trained on "
                    "numbers there"
                )
            infinite = np.isinf(cells.values)
            if infinite.any():
                row = int(np.flatnonzero(infinite)[0])
                raise DataError(
                    f"{source}: column {column.name!r} holds {cells.text(row)!r} at data row "
                    f"{row + 1}; values must be finite"
                )
            values = cells.values
            if column.fill is not None:
                values = np.where(cells.missing, column.fill, values)
            return values[:, None]
        texts = np.array(["" if gap else cells.text(i) for i, gap in enumerate(cells.missing)],
                         dtype=object)
        known = np.isin(texts, np.array(column.categories, dtype=object)) | cells.missing
        if not known.all() and unknown == "error":
            unseen = sorted(set(texts[~known].tolist()))
            row = int(np.flatnonzero(~known)[0])
            raise DataError(
                f"{source}: column {column.name!r} holds "
                f"{'categories' if len(unseen) > 1 else 'a category'} the training data never "
                f"had: {_listing(unseen)} (first at data row {row + 1}); known: "
                f"{_listing(column.categories)}"
            )
        one_hot = np.zeros((len(texts), len(column.categories)))
        for j, category in enumerate(column.categories):
            one_hot[:, j] = texts == category
        return one_hot

    # -- JSON --------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "version": VERSION,
            "target": self.target,
            "headerless": self.headerless,
            "impute": self.impute,
            "decimal_comma": self.decimal_comma,
            "columns": [
                {"name": c.name, "kind": "numeric" if c.categories is None else "categorical",
                 **({"fill": c.fill} if c.categories is None else
                    {"categories": list(c.categories)})}
                for c in self.columns
            ],
            "outputs": list(self.output_names),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str) -> FeatureEncoding:
        if data.get("schema") != SCHEMA or data.get("version") != VERSION:
            raise DataError(f"{source} is not a feature encoding written by this mdlnas")
        try:
            columns = tuple(
                Column(str(c["name"]),
                       tuple(str(v) for v in c["categories"]) if c["kind"] == "categorical"
                       else None,
                       None if c.get("fill") is None else float(c["fill"]))
                for c in data["columns"]
            )
            return cls(columns, data.get("target"), bool(data.get("headerless", False)),
                       data.get("impute"), bool(data.get("decimal_comma", False)))
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"{source} is malformed ({exc!r})") from None

    def save(self, path: Path) -> None:
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
        tmp.replace(path)  # a reader never sees half a file

    @classmethod
    def load(cls, path: Path) -> FeatureEncoding:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise DataError(f"cannot read the feature encoding {path}: {exc}") from None
        if not isinstance(data, dict):
            raise DataError(f"{path} is not a feature encoding written by mdlnas")
        return cls.from_dict(data, str(path))


def _named(features: pd.DataFrame) -> pd.DataFrame:
    """``features`` with its column labels as text, as the encoding (and JSON) keeps them:
    a DataFrame made from an array is labelled 0, 1, ..."""
    if all(isinstance(name, str) for name in features.columns):
        return features
    return features.set_axis([str(name) for name in features.columns], axis=1)


# -- cells ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Cells:
    """One column read as numbers: ``values`` (NaN where missing or not a number), which
    cells are ``missing`` and which hold something that is ``bad`` as a number."""

    values: NDArray[np.float64]
    missing: NDArray[np.bool_]
    bad: NDArray[np.bool_]
    raw: NDArray[Any]

    def text(self, row: int) -> str:
        return str(self.raw[row]).strip()


def _read_cells(series: pd.Series, decimal_comma: bool) -> _Cells:
    import pandas as pd

    if series.dtype.kind in "biuf":  # already numbers: the common case, kept fast
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        missing = np.isnan(values)
        return _Cells(values, missing, np.zeros(len(values), dtype=bool), values)
    raw: NDArray[Any] = series.to_numpy(dtype=object, na_value=np.nan)
    gaps = np.asarray(pd.isna(raw), dtype=bool)
    texts = ["" if gap else _text(c) for c, gap in zip(raw, gaps, strict=True)]
    missing = np.array([not t for t in texts], dtype=bool)
    if decimal_comma:
        texts = [t.replace(",", ".") if _DECIMAL_COMMA.match(t) else t for t in texts]
    # errors="coerce": a cell that is no number becomes NaN; `bad` tells it from a gap.
    numbers = pd.to_numeric(pd.Series(texts, dtype=object).replace("", np.nan), errors="coerce")
    values = np.asarray(numbers, dtype=np.float64)
    # A text pandas reads as NaN ("nan", "-nan") spells a gap, not a category.
    spelled_nan = np.array([t.lower().lstrip("+-") == "nan" for t in texts], dtype=bool)
    return _Cells(values, missing | spelled_nan, np.isnan(values) & ~missing & ~spelled_nan, raw)


def _text(cell: object) -> str:
    if isinstance(cell, bool | np.bool_):  # True / False are the numbers 1 / 0
        return "1" if cell else "0"
    return str(cell).strip()


def _fill(
    name: object, train: NDArray[np.float64], impute: ImputeOption | None, source: str
) -> float | None:
    if impute is None:
        return None
    known = train[~np.isnan(train)]
    if len(known) == 0:
        raise DataError(
            f"{source}: column {name!r} has no value in the training rows to impute from; "
            "drop that column"
        )
    return float(np.mean(known) if impute == "mean" else np.median(known))


def _categories(
    name: object, cells: _Cells, fit_rows: NDArray[np.int64], source: str
) -> tuple[str, ...]:
    categories = tuple(sorted({cells.text(int(i)) for i in fit_rows if not cells.missing[i]}))
    if len(categories) > MAX_CATEGORIES:
        raise DataError(
            f"{source}: column {name!r} holds {len(categories)} distinct texts in the "
            f"training rows, too many to treat as categories (at most {MAX_CATEGORIES}); "
            "an identifier or free text? Drop that column"
        )
    if not categories:
        raise DataError(f"{source}: column {name!r} has no value in the training rows")
    return categories


def _listing(values: Sequence[object], limit: int = 12) -> str:
    shown = ", ".join(str(v) for v in values[:limit])
    return shown + (f" and {len(values) - limit} more" if len(values) > limit else "")
