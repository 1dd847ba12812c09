"""Photos and signatures of check-ins: stored under FOLLOWUP_DATA_DIR/checkins/, their type taken from
the bytes (not the file name or the client's word) and their size limited."""
import hashlib
import uuid

import sqlalchemy as sa

from engine import clock
from engine.errors import InvalidInput, NotFound

from engine.customers.schema import checkin_files
from engine.customers.settings import get_settings

SIGNATURES = ((b"\xff\xd8\xff", "image/jpeg", "jpg"), (b"\x89PNG\r\n\x1a\n", "image/png", "png"))


def sniff(data: bytes):
    for magic, content_type, ext in SIGNATURES:
        if data.startswith(magic):
            return content_type, ext
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp", "webp"
    if data[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1"):
        return "image/heic", "heic"
    return None, None


def store_file(engine, data: bytes, uploaded_by=None) -> dict:
    """Keep an uploaded photo or signature; returns {"id", "content_type", "size"} to put in a check-in."""
    with engine.db.connect() as conn:
        limit = get_settings(conn)["checkin.max_photo_bytes"]
    if not data:
        raise InvalidInput("the file is empty", {"file": ["empty"]})
    if len(data) > limit:
        raise InvalidInput(f"the file has {len(data)} bytes, more than the {limit} allowed", {"file": ["too large"]})
    content_type, ext = sniff(data)
    if content_type is None:
        raise InvalidInput("the file is not a JPEG, PNG, WebP or HEIC image", {"file": ["not an image"]})
    file_id = str(uuid.uuid4())
    now = clock.now()
    relative = f"checkins/{now:%Y/%m}/{file_id}.{ext}"
    path = engine.settings.data_dir / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    with engine.db.begin() as conn:
        conn.execute(checkin_files.insert().values(id=file_id, path=relative, content_type=content_type, size=len(data),
                                                   sha256=hashlib.sha256(data).hexdigest(), uploaded_by=uploaded_by,
                                                   uploaded_at=now))
    return {"id": file_id, "content_type": content_type, "size": len(data)}


def open_file(engine, file_id):
    """(content_type, bytes) of a stored file."""
    with engine.db.connect() as conn:
        row = conn.execute(sa.select(checkin_files).where(checkin_files.c.id == file_id)).first()
    if row is None:
        raise NotFound(f"no stored file {file_id}")
    return row.content_type, (engine.settings.data_dir / row.path).read_bytes()
