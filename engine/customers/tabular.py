"""Reading spreadsheets: .xlsx (openpyxl, read-only) and .csv (UTF-8 with or without BOM, else GB18030,
which is what Excel on a Chinese Windows writes)."""
import csv
import io
from datetime import datetime
from pathlib import Path

from engine.errors import InvalidInput


def _read_bytes(file):
    if isinstance(file, (bytes, bytearray)):
        return bytes(file), None
    if isinstance(file, (str, Path)):
        path = Path(file)
        return path.read_bytes(), path.name
    data = file.read()
    return data, getattr(file, "name", None)


def read_table(file, file_name=None):
    """(file name, headers, rows) where rows are (spreadsheet row number, [cell values]); the first
    non-empty row is the header row."""
    data, name = _read_bytes(file)
    name = file_name or name or "upload"
    is_xlsx = data[:4] == b"PK\x03\x04"
    if name.lower().endswith((".xls",)) and not is_xlsx:
        raise InvalidInput("old .xls files cannot be read: save the sheet as .xlsx or .csv", {"file": ["format .xls"]})
    if not is_xlsx and name.lower().endswith((".xlsx", ".xlsm")):  # a truncated or corrupt workbook
        raise InvalidInput(f"{name} is not a readable .xlsx workbook (damaged or not really a workbook): "
                           "open it in Excel or WPS and save it again, or save it as .csv", {"file": ["unreadable"]})
    rows = _xlsx_rows(data, name) if is_xlsx else _csv_rows(data)
    for number, cells in rows:
        if any(_present(c) for c in cells):
            headers = [str(c).strip() if c is not None else "" for c in cells]
            break
    else:
        raise InvalidInput(f"{name} has no header row", {"file": ["empty"]})
    body = [(n, list(c) + [None] * (len(headers) - len(c))) for n, c in rows if any(_present(v) for v in c)]
    return name, headers, body


def _present(value):
    return value is not None and str(value).strip() != ""


def _xlsx_rows(data, name="the file"):
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        sheet = book.worksheets[0]
        rows = list(sheet.iter_rows(values_only=True))
    except Exception as err:  # openpyxl raises several kinds for a broken file
        raise InvalidInput(f"{name} is not a readable .xlsx workbook ({type(err).__name__}): open it in Excel or "
                           "WPS and save it again, or save it as .csv", {"file": ["unreadable"]}) from None
    out = []
    for number, cells in enumerate(rows, start=1):
        out.append((number, [c.date() if isinstance(c, datetime) and c.time() == datetime.min.time() else c
                             for c in cells]))
    book.close()
    return iter(out)


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
    return iter(list(enumerate(csv.reader(io.StringIO(text), dialect), start=1)))


def write_csv(headers, rows) -> bytes:
    """CSV with a BOM, so Excel opens Chinese text correctly."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(headers)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8-sig")
