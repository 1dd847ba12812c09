"""Refresh the third-party browser code under api/pages/static/vendor/ from the npm registry.

    python -m api.pages.refresh_vendor                # the versions pinned below
    python -m api.pages.refresh_vendor bpmn-js=18.32.0 htmx.org=2.0.12

Needs `npm` (only to download the published tarballs: nothing is built). Writes each package's files, its
LICENSE, and vendor/VERSIONS.json (package, version, tarball, the registry's integrity) and
vendor/SHA256SUMS (checked by tests/test_pages_vendor.py). Run it, look at the diff, run the browser
tests, commit. The pages load these files from this server only: nothing comes from the internet at run
time.
"""
import hashlib
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

VENDOR = Path(__file__).parent / "static" / "vendor"

# package -> (version, folder, {file in the tarball: name in the folder})
PACKAGES = {
    "htmx.org": ("2.0.11", "htmx", {"package/dist/htmx.min.js": "htmx.min.js", "package/LICENSE": "LICENSE"}),
    "bpmn-js": ("18.31.1", "bpmn-js", {
        "package/dist/bpmn-navigated-viewer.production.min.js": "bpmn-navigated-viewer.production.min.js",
        "package/dist/assets/bpmn-js.css": "bpmn-js.css",
        "package/dist/assets/diagram-js.css": "diagram-js.css",
        "package/LICENSE": "LICENSE",  # keep the bpmn.io watermark visible: its license requires it
    }),
}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fetch(package, version, folder, files, work: Path) -> dict:
    out = subprocess.run(["npm", "pack", "--json", f"{package}@{version}"], cwd=work, check=True,
                         capture_output=True, text=True).stdout
    info = json.loads(out)[0]
    target = VENDOR / folder
    target.mkdir(parents=True, exist_ok=True)
    with tarfile.open(work / info["filename"]) as archive:
        for inner, name in files.items():
            (target / name).write_bytes(archive.extractfile(inner).read())
        manifest = json.loads(archive.extractfile("package/package.json").read())
    bundled = manifest.get("dependencies") or {}
    if bundled:  # a prebuilt bundle carries its dependencies: name them and their licenses
        lines = [f"{package} {version} (its license: LICENSE in this folder) bundles these packages in its dist files:"]
        for name, wanted in sorted(bundled.items()):
            found = json.loads(_npm(["view", "--json", f"{name}@{wanted}", "license"], work) or "null")
            lines.append(f"  {name} {wanted}: {found[-1] if isinstance(found, list) else found}")
        (target / "NOTICE").write_text("\n".join(lines) + "\n")
    view = json.loads(_npm(["view", "--json", f"{package}@{version}", "dist"], work))
    return {"package": package, "version": version, "folder": folder, "files": sorted(files.values()),
            "tarball": view.get("tarball"), "integrity": view.get("integrity")}


def _npm(args, work):
    return subprocess.run(["npm", *args], cwd=work, check=True, capture_output=True, text=True).stdout


def write_sums():
    lines = [f"{sha256(p)}  {p.relative_to(VENDOR).as_posix()}" for p in sorted(VENDOR.rglob("*"))
             if p.is_file() and p.name not in ("SHA256SUMS",)]
    (VENDOR / "SHA256SUMS").write_text("\n".join(lines) + "\n")


def main(argv):
    pins = dict(arg.split("=", 1) for arg in argv)
    records = []
    with tempfile.TemporaryDirectory() as work:
        for package, (version, folder, files) in PACKAGES.items():
            version = pins.get(package, version)
            print(f"{package}@{version} -> vendor/{folder}", file=sys.stderr)
            records.append(fetch(package, version, folder, files, Path(work)))
    (VENDOR / "VERSIONS.json").write_text(json.dumps(records, indent=2) + "\n")
    write_sums()
    if pins:
        print("update the versions pinned in api/pages/refresh_vendor.py to match", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
