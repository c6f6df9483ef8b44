"""User tables in delimited text (``.csv``, ``.tsv``, ``.txt``), read with pandas.

One reader serves ``search``, ``train`` and ``predict``, so a file that trains also
predicts. What it tells from the file itself:

* the text encoding: UTF-8 (with or without the byte-order mark Excel writes), UTF-16 or
  UTF-32 as charset-normalizer finds them (Excel's "Unicode text"), else Windows-1252
  (Excel's Western "CSV"; Latin-1 where a byte is not Windows-1252);
* the delimiter: comma, semicolon, tab or ``|`` (csv.Sniffer, restricted to those), or
  runs of spaces; semicolon files may write numbers with a decimal comma (``1,5``);
* the header: a first row of numbers only means there is none, as in the UCR time-series
  archive's files (label first, one column per time step). Columns are then named by
  position, ``"0"``, ``"1"``, ..., and the target defaults to the first one.

Feature columns go through a :class:`~mdlnas.data.encoding.FeatureEncoding` fitted on the
training rows: text columns are categories (one-hot), ``impute`` fills missing values.
With ``signal`` (a number of channels) every feature column is a time step instead.
"""

from __future__ import annotations

import codecs
import csv
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mdlnas.data.assemble import build_bundle, encoding_rows
from mdlnas.data.bundle import DataBundle
from mdlnas.data.config import DataConfig
from mdlnas.data.encoding import FeatureEncoding
from mdlnas.data.sources.files import existing_file
from mdlnas.data.targets import encode_targets
from mdlnas.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

SUFFIXES = (".csv", ".tsv", ".txt")
_DELIMITERS = ",;\t|"
_WHITESPACE = r"\s+"
_SAMPLE_BYTES = 1 << 16  # enough lines to tell the encoding and the delimiter
# Missing-value spellings beyond pandas' own ("", "NA", "N/A", "NaN", "null", ...).
_EXTRA_MISSING = ["?"]


@dataclass(frozen=True)
class Table:
    """A table's cells (pandas' types; columns named as in the file, or by position)
    and how the file was written."""

    frame: pd.DataFrame
    headerless: bool
    delimiter: str
    encoding: str

    @property
    def decimal_comma(self) -> bool:
        # Only where the comma cannot be the delimiter: "1,5" is then one number.
        return self.delimiter not in (",", _WHITESPACE)


def read_table(file: Path) -> Table:
    """Every row of ``file``, or a DataError saying why it cannot be read."""
    try:
        with file.open("rb") as handle:
            head = handle.read(_SAMPLE_BYTES)
    except OSError as exc:
        raise DataError(f"cannot read {file}: {exc}") from None
    encoding = _encoding(file, head)
    lines = [line for line in head.decode(encoding, errors="replace").splitlines()
             if line.strip()]
    if not lines:
        raise DataError(f"{file} is empty; it needs rows of values (and a header row naming "
                        "the columns)")
    delimiter = _delimiter(lines[:50])
    try:
        first = _split(lines[0], delimiter)
    except csv.Error as exc:  # Python 3.10's csv refuses NUL bytes ("line contains NUL")
        raise DataError(f"cannot read {file} as a table: {exc} in its first row; is it a "
                        "text file of rows?") from None
    headerless = len(first) > 0 and all(_is_number(cell) for cell in first)
    if headerless:
        names = [str(i) for i in range(len(first))]
    else:
        names = [cell.strip() for cell in first]
        if "" in names or len(set(names)) != len(names):
            raise DataError(f"{file}: column names must be non-empty and unique, got {names}")
    frame = _read_frame(file, encoding, delimiter, headerless, len(names))
    frame.columns = names
    if frame.empty:
        raise DataError(f"{file} has a header but no data rows")
    return Table(frame, headerless, delimiter, encoding)


def _encoding(file: Path, head: bytes) -> str:
    # An incremental decoder accepts a character cut off at the end of the sample.
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
        return "utf-8-sig"  # drops Excel's byte-order mark, which would glue onto a name
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    guess = from_bytes(head).best()
    if guess is not None and guess.encoding.startswith(("utf_16", "utf_32")):
        return str(guess.encoding)
    # Telling one 8-bit code page from another is a guess that short files get wrong
    # (café in Windows-1252 was taken for Mac Latin-2); Windows-1252 is what Excel writes
    # on Western machines, and Latin-1 reads any byte.
    try:
        head.decode("cp1252")
        return "cp1252"
    except UnicodeDecodeError:
        return "latin-1"


def _delimiter(lines: list[str]) -> str:
    try:
        return csv.Sniffer().sniff("\n".join(lines), delimiters=_DELIMITERS).delimiter
    except csv.Error:
        pass
    counts = {d: lines[0].count(d) for d in _DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    if counts[best]:
        return best
    if len(lines[0].split()) > 1:  # the UCR archive's older files: numbers and spaces
        return _WHITESPACE
    return ","  # a single column


def _split(line: str, delimiter: str) -> list[str]:
    if delimiter == _WHITESPACE:
        return line.split()
    return next(csv.reader([line], delimiter=delimiter), [])


def _read_frame(
    file: Path, encoding: str, delimiter: str, headerless: bool, width: int
) -> pd.DataFrame:
    import pandas as pd

    try:
        # Positional names: pandas would rename duplicates and could take a surplus first
        # field as the index. index_col=False stops that, but drops the surplus of the
        # first rows with a mere warning: an error here, as for any later row.
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)
            frame: pd.DataFrame = pd.read_csv(
                file, sep=delimiter, encoding=encoding, header=None if headerless else 0,
                names=list(range(width)), index_col=False, na_values=_EXTRA_MISSING,
                skip_blank_lines=True, encoding_errors="strict",
            )
    except pd.errors.ParserWarning:
        raise DataError(f"cannot read {file}: a row has more fields than the header's "
                        f"{width}") from None
    except pd.errors.EmptyDataError:
        raise DataError(f"{file} has a header but no data rows") from None
    except pd.errors.ParserError as exc:
        raise DataError(f"cannot read {file}: {_first_line(exc)}") from None
    # The parser and the decoder fail in many ways on a file we did not write (a bad byte,
    # a quote left open, a lone field past the header); all mean the same to the user.
    except Exception as exc:
        raise DataError(f"cannot read {file}: {_first_line(exc)}") from None
    return frame


def _first_line(exc: Exception) -> str:
    lines = str(exc).strip().splitlines() or [type(exc).__name__]
    return lines[0].removeprefix("Error tokenizing data. C error: ")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# -- a table as a dataset -----------------------------------------------------------------
def split_target(table: Table, target: str | None, source: str) -> tuple[str, np.ndarray]:
    """The target column's name and raw values (text or numbers) of ``table``."""
    names = [str(name) for name in table.frame.columns]
    if target is None:
        if not table.headerless:
            raise DataError(f"{source}: name the target column with --target / target= "
                            f"(columns: {', '.join(names)})")
        target = names[0]  # the UCR layout: the label first
    if target not in names:
        hint = (" (it has no header row, so its columns are named by position, 0 first)"
                if table.headerless else "")
        raise DataError(f"{source} has no column {target!r}; columns: "
                        f"{_short(names)}{hint}")
    if len(names) < 2:
        raise DataError(f"{source} has no feature columns besides the target {target!r}")
    column = table.frame[target]
    raw: np.ndarray
    if column.dtype.kind in "biuf":
        raw = column.to_numpy()
    else:  # labels as written; a missing one becomes "" for encode_targets to name
        raw = np.array(["" if cell is None or cell != cell else str(cell).strip()
                        for cell in column.to_numpy(dtype=object)], dtype=np.str_)
    return target, raw


def load_table(config: DataConfig) -> DataBundle:
    """A delimited text file as a dataset: the task is inferred from the target column."""
    file = existing_file(config.name)
    source = f"table {file}"
    table = read_table(file)
    target, raw_y = split_target(table, config.target, source)
    targets = encode_targets(raw_y, config.task, source=source)
    features = table.frame.drop(columns=[target])
    encoding = FeatureEncoding.fit(
        features, encoding_rows(config, file.name, targets), source=source,
        impute=config.impute, target=target, headerless=table.headerless,
        decimal_comma=table.decimal_comma, numeric_only=config.signal is not None,
    )
    # The dataset's own validation and test rows may hold categories its training rows
    # lack; they are encoded as none of the known ones, as a deployed model would see them.
    x = encoding.transform(features, source=source, unknown="ignore")
    return build_bundle(config, file.name, x, targets, encoding=encoding)


def _short(names: list[str], limit: int = 20) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names)} columns)" if len(names) > limit else "")
