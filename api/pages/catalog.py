"""Bring the pages' message catalog up to date, in the format it is committed in:

    .venv/bin/python -m api.pages.catalog          # extract, merge into the .po, compile the .mo
    .venv/bin/python -m api.pages.catalog --check  # exit 1 if a text is new or untranslated (writes nothing)

pybabel's own `extract`/`update` commands would rewrite the whole catalog: location comments on every
entry, lines wrapped anew, and "fuzzy" guesses for new texts from similar old ones (it once offered 打卡,
"check-in", for "checked"). Here the entries stay sorted by msgid without locations, a new text gets an
empty translation to write, a text no longer used is dropped, and the .mo is compiled from the .po.
Then translate the empty `msgstr` lines of zh_Hans_CN/LC_MESSAGES/messages.po and run it again;
tests/test_pages_i18n.py fails on anything untranslated or not compiled."""
import argparse
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

HERE = Path(__file__).parent
TRANSLATIONS = HERE / "translations"
POT = TRANSLATIONS / "messages.pot"
LOCALES = ("zh_Hans_CN",)
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "lazy_gettext": None}


def extracted() -> Catalog:
    """The texts of the pages' code and templates (babel.cfg says which files, and how)."""
    with (HERE / "babel.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    catalog = Catalog(project="Followup", fuzzy=False)
    for path, lineno, message, comments, context in extract_from_dir(
            HERE, method_map, options_map, keywords=KEYWORDS):
        catalog.add(message, None, [], auto_comments=comments, context=context)
    return catalog


def _msgid(message) -> str:
    return message.id[0] if isinstance(message.id, tuple) else message.id  # a plural: its singular


def _sorted(catalog: Catalog, like: Catalog | None = None) -> Catalog:
    """`catalog`'s messages sorted by msgid, without locations or fuzzy flags; header as `like`'s."""
    out = Catalog(locale=catalog.locale, project=catalog.project, fuzzy=False)
    out.mime_headers = catalog.mime_headers
    if like is not None:
        out.header_comment, out.creation_date = like.header_comment, like.creation_date
    for message in sorted((m for m in catalog if m.id), key=_msgid):
        out[message.id] = message
        message.locations, message.flags = [], {f for f in message.flags if f != "fuzzy"}
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if the catalog lags")
    args = parser.parse_args(argv)
    template = _sorted(extracted())
    lagging = []
    for locale in LOCALES:
        po_path = TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po"
        with po_path.open("rb") as f:
            committed = read_po(f, locale=locale)
        with po_path.open("rb") as f:
            catalog = read_po(f, locale=locale)
        catalog.update(template, no_fuzzy_matching=True)
        catalog.obsolete.clear()
        catalog = _sorted(catalog, like=committed)
        lagging += [f"{locale}: {_msgid(m)!r}" for m in catalog
                    if m.id and (not m.string or (isinstance(m.string, tuple) and not all(m.string)))]
        if not args.check:
            with po_path.open("wb") as f:
                write_po(f, catalog, width=120, omit_header=False, no_location=True)
            with po_path.with_suffix(".mo").open("wb") as f:
                write_mo(f, catalog)
    if not args.check:
        with POT.open("wb") as f:
            write_po(f, template, width=76, omit_header=True, no_location=True)
    for line in lagging:
        print(f"untranslated: {line}")
    return 1 if args.check and lagging else 0


if __name__ == "__main__":
    sys.exit(main())
