"""The pages' third-party browser code: committed as published on npm (checksums, versions, licenses),
loaded from this server only, shipped in the package, and the bpmn.io watermark left visible."""
import configparser
import fnmatch
import hashlib
import json
import re
from pathlib import Path

from api.pages.refresh_vendor import PACKAGES

ROOT = Path(__file__).resolve().parent.parent
PAGES = ROOT / "api" / "pages"
VENDOR = PAGES / "static" / "vendor"


def test_the_vendored_files_are_the_ones_recorded():
    sums = {}
    for line in (VENDOR / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split("  ", 1)
        sums[name] = digest
    on_disk = {p.relative_to(VENDOR).as_posix() for p in VENDOR.rglob("*") if p.is_file()} - {"SHA256SUMS"}
    assert set(sums) == on_disk
    for name, digest in sums.items():
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == digest, name
    recorded = {r["package"]: r for r in json.loads((VENDOR / "VERSIONS.json").read_text())}
    for package, (version, folder, files) in PACKAGES.items():
        assert recorded[package]["version"] == version and recorded[package]["integrity"].startswith("sha512-")
        assert (VENDOR / folder / "LICENSE").is_file()
        assert all((VENDOR / folder / name).is_file() for name in files.values())


def test_nothing_is_loaded_from_the_internet():
    for template in (PAGES / "templates").glob("*.html"):
        text = template.read_text()
        assert not re.search(r"""(src|href)=["']?(https?:)?//""", text), template.name
    for own in ("app.css", "app.js", "diagram.js"):
        assert not re.search(r"https?://|@import", (PAGES / "static" / own).read_text()), own


def test_the_bpmn_io_watermark_is_not_hidden():
    css = (PAGES / "static" / "app.css").read_text()
    for rule in re.findall(r"[^{}]*bjs-powered-by[^{}]*\{[^}]*\}", css):
        assert not re.search(r"display\s*:\s*none|visibility\s*:\s*hidden|opacity\s*:\s*0", rule)


def test_the_package_ships_templates_static_files_and_catalogs():
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    patterns = [p.strip() for p in config["options.package_data"]["api.pages"].split(",")]
    for path in PAGES.rglob("*"):
        relative = path.relative_to(PAGES).as_posix()
        if path.is_file() and relative.split("/")[0] in ("templates", "static", "translations"):
            assert any(fnmatch.fnmatch(relative, p) and relative.count("/") == p.count("/") for p in patterns), relative
