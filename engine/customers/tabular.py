"""Reading spreadsheets: .xlsx (openpyxl, read-only, row by row) and .csv (UTF-8 with or without BOM, else
GB18030, which is what Excel on a Chinese Windows writes); writing CSV that a spreadsheet cannot run.

Limits (README, "Limits"): at most `MAX_ROWS` filled rows (FOLLOWUP_IMPORT_MAX_ROWS, default 50,000) and
`MAX_COLUMNS` columns; an .xlsx whose unpacked size passes `MAX_UNPACKED_BYTES` is refused before it is
read; a run of `EMPTY_RUN` empty rows ends the sheet (a sheet "formatted" down to row 1,048,576 is
read in a moment). NUL characters are refused (PostgreSQL cannot store them).
"""
import csv
import io
import os
import re
import zipfile
from datetime import datetime
from pathlib import Path

from engine.config import env_number
from engine.errors import InvalidInput, TooLarge

MAX_ROWS = env_number(os.environ, "FOLLOWUP_IMPORT_MAX_ROWS", int, 50_000)
MAX_COLUMNS = 200
MAX_UNPACKED_BYTES = 200 * 1024 * 1024
EMPTY_RUN = 1_000


def _read_bytes(file):
    if isinstance(file, (bytes, bytearray)):
        return bytes(file), None
    if isinstance(file, (str, Path)):
        path = Path(file)
        return path.read_bytes(), path.name
    data = file.read()
    return data, getattr(file, "name", None)


def _open(file, file_name):
    """(data, file name, the filled rows as they are read) of a file that looks readable."""
    data, name = _read_bytes(file)
    name = file_name or name or "upload"
    is_xlsx = data[:4] == b"PK\x03\x04"
    if name.lower().endswith((".xls",)) and not is_xlsx:
        raise InvalidInput("old .xls files cannot be read: save the sheet as .xlsx or .csv", {"file": ["format .xls"]})
    if not is_xlsx and name.lower().endswith((".xlsx", ".xlsm")):  # a truncated or corrupt workbook
        raise InvalidInput(f"{name} is not a readable .xlsx workbook (damaged or not really a workbook): "
                           "open it in Excel or WPS and save it again, or save it as .csv", {"file": ["unreadable"]})
    return data, name, _limited(_xlsx_rows(data, name) if is_xlsx else _csv_rows(data), name)


def read_table(file, file_name=None):
    """(file name, headers, rows) where rows are (spreadsheet row number, [cell values]); the first
    non-empty row is the header row."""
    data, name, rows = _open(file, file_name)
    for number, cells in rows:
        if any(_present(c) for c in cells):
            headers = [str(c).strip() if c is not None else "" for c in cells]
            break
    else:
        raise InvalidInput(f"{name} has no header row", {"file": ["empty"]})
    body = [(n, list(c) + [None] * (len(headers) - len(c))) for n, c in rows]
    return name, headers, body


def read_headers(file, file_name=None):
    """(file name, headers) without reading further than the header row, unless the file may have more
    than `MAX_ROWS` rows (`estimate_rows`): then on until the limit, to refuse it (TooLarge) as a
    synchronous import would. What a background import checks before it answers."""
    data, name, rows = _open(file, file_name)
    try:
        for number, cells in rows:
            if any(_present(c) for c in cells):
                headers = [str(c).strip() if c is not None else "" for c in cells]
                if estimate_rows(data) > MAX_ROWS:
                    for _ in rows:  # _limited raises past MAX_ROWS
                        pass
                return name, headers
    finally:
        rows.close()
    raise InvalidInput(f"{name} has no header row", {"file": ["empty"]})


_DIMENSION = re.compile(rb'<(?:\w+:)?dimension ref="[A-Z]+\d+:[A-Z]+(\d+)"')
_ROW_TAG = re.compile(rb"<(?:\w+:)?row[\s>/]")


def estimate_rows(file) -> int:
    """About how many rows the file has (at least as many as it has filled), without parsing it: the
    lines of a CSV; the `<dimension>` an .xlsx declares, else the `<row>` tags of its first sheet.
    Decides whether an import runs in the background; never used as the count."""
    data, _ = _read_bytes(file)
    if data[:4] != b"PK\x03\x04":
        return max(data.count(b"\n") + (not data.endswith(b"\n")) - 1, 0)
    try:
        book = zipfile.ZipFile(io.BytesIO(data))
        sheets = sorted((i for i in book.infolist() if i.filename.startswith("xl/worksheets/sheet")),
                        key=lambda i: (len(i.filename), i.filename))
        if not sheets:
            return 0
        with book.open(sheets[0]) as stream:
            head = stream.read(4096)
            found = _DIMENSION.search(head)
            if found:
                return max(int(found.group(1)) - 1, 0)
            rows, tail, block = 0, b"", head
            while block:
                text = tail + block
                tail = text[-16:]
                # a tag within the overlap is counted with the next block
                rows += len(_ROW_TAG.findall(text)) - len(_ROW_TAG.findall(tail))
                block = stream.read(1 << 20)
            return max(rows + len(_ROW_TAG.findall(tail)) - 1, 0)
    except (zipfile.BadZipFile, ValueError, OSError, KeyError):
        return 0  # unreadable: the import says why, at once


def _limited(rows, name):
    """The filled rows, refusing a sheet past the limits; a long run of empty rows ends it."""
    filled = empty_run = 0
    for number, cells in rows:
        if not any(_present(c) for c in cells):
            empty_run += 1
            if empty_run >= EMPTY_RUN:
                return
            continue
        empty_run = 0
        filled += 1
        if filled > MAX_ROWS + 1:  # + the header row
            raise TooLarge(f"{name} has more than {MAX_ROWS:,} rows; split it into several files "
                           "(FOLLOWUP_IMPORT_MAX_ROWS)", {"file": [f"more than {MAX_ROWS:,} rows"]})
        if len(cells) > MAX_COLUMNS and any(_present(c) for c in cells[MAX_COLUMNS:]):
            raise InvalidInput(f"{name}, row {number}: more than {MAX_COLUMNS} columns",
                               {"file": [f"more than {MAX_COLUMNS} columns"]})
        cells = cells[:MAX_COLUMNS]
        for cell in cells:
            if isinstance(cell, str) and "\x00" in cell:
                raise InvalidInput(f"{name}, row {number}: a cell contains a NUL character",
                                   {"file": [f"row {number}: NUL character"]})
        yield number, cells


def _present(value):
    return value is not None and str(value).strip() != ""


def _xlsx_rows(data, name="the file"):
    from openpyxl import load_workbook

    try:
        unpacked = sum(info.file_size for info in zipfile.ZipFile(io.BytesIO(data)).infolist())
    except (zipfile.BadZipFile, ValueError):
        raise InvalidInput("the file is not a readable .xlsx workbook (a broken zip)", {"file": ["unreadable"]}) from None
    if unpacked > MAX_UNPACKED_BYTES:
        raise TooLarge(f"the workbook unpacks to {unpacked // (1024 * 1024):,} MB, more than the "
                       f"{MAX_UNPACKED_BYTES // (1024 * 1024)} MB allowed; save it as .csv or split it",
                       {"file": ["too large when unpacked"]})
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as err:  # openpyxl raises several kinds for a broken file
        raise InvalidInput(f"{name} is not a readable .xlsx workbook ({type(err).__name__}): open it in Excel or "
                           "WPS and save it again, or save it as .csv", {"file": ["unreadable"]}) from None
    sheet = book.worksheets[0]
    try:
        for number, cells in enumerate(sheet.iter_rows(values_only=True), start=1):
            yield number, [c.date() if isinstance(c, datetime) and c.time() == datetime.min.time() else c
                           for c in cells]
    finally:
        book.close()


def _csv_rows(data):
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise InvalidInput("the CSV file is neither UTF-8 nor GBK/GB18030 text", {"file": ["encoding"]})
    sample = text[:4096]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise InvalidInput(f"line {line} of the CSV file contains a NUL character: not text a spreadsheet writes",
                           {"file": [f"line {line}: NUL character"]})
    return enumerate(csv.reader(io.StringIO(text), dialect), start=1)


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"^[+-]?\d+(\.\d+)?$")


def neutralise(cell):
    """A cell a spreadsheet would run as a formula (`=HYPERLINK(...)`, `+cmd|...`, `@SUM(...)`), as text:
    a leading apostrophe (the OWASP rule for CSV injection). Plain numbers such as -5 are left alone."""
    if isinstance(cell, str) and cell.startswith(_FORMULA_START) and not _PLAIN_NUMBER.match(cell):
        return "'" + cell
    return cell


def write_csv(headers, rows) -> bytes:
    """CSV with a BOM, so Excel opens Chinese text correctly; no cell can be taken for a formula."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([neutralise(h) for h in headers])
    writer.writerows([neutralise(c) for c in row] for row in rows)
    return out.getvalue().encode("utf-8-sig")
