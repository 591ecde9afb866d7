"""Images stored by key (VIBA_STORAGE): `db` (a blobs table), `local:<dir>`, `s3://bucket/prefix`.

Keys are content addresses (`img/<sha256>.<ext>`), so the same upload is stored once, and never
expire (history rows keep keys, not URLs). Every image gets a WEBP thumbnail (`thumb/<sha256>.webp`,
long side at most 384 px). An upload waiting for its worker is kept as it came, without a
thumbnail (`upload/<sha256>.<ext>`, any format the studio takes): the worker decodes it, stores
the prepared image and forgets the upload (viba.studio.generations). Which generations use a
key is kept in the image_refs table; a blob is deleted only when no row refers to it any more
(viba.studio.history does that).
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from PIL import Image
from sqlalchemy import delete, select

from viba.core.errors import UserError
from viba.store.db import Database
from viba.store.models import Blob, utcnow

THUMB_SIDE = 384
KEY_RE = re.compile(
    r"^((img|thumb)/[0-9a-f]{64}\.(png|jpg|webp)|upload/[0-9a-f]{64}\.(jpg|png|webp|gif|bmp|tif|heic|avif))$"
)
EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}
UPLOAD_EXTENSIONS = {
    **EXTENSIONS,
    "image/gif": "gif",
    "image/bmp": "bmp",
    "image/tiff": "tif",
    "image/heic": "heic",
    "image/avif": "avif",
}
MIME_BY_EXT = {ext: mime for mime, ext in UPLOAD_EXTENSIONS.items()}
UPLOAD_PREFIX = "upload/"


class StorageError(UserError, RuntimeError):
    """A stored image cannot be read or written; the message says what to check."""


class BlobMissing(StorageError):
    pass


class Backend(Protocol):
    name: str

    def put(self, key: str, data: bytes, mime: str) -> None: ...

    def get(self, key: str) -> bytes: ...

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None: ...


def check_key(key: str) -> str:
    """Keys come from our own rows, but a key is also a path or an S3 name: refuse anything
    that is not exactly one of ours."""
    if not KEY_RE.match(key):
        raise StorageError(f"Not an image key: {key!r}")
    return key


_READ_BLOBS = f"SELECT key, data FROM {Blob.__tablename__} WHERE key = ANY(%s)"


class DbBackend:
    """Blobs in the application database: nothing else to run, works on Supabase as is."""

    name = "db"

    def __init__(self, db: Database) -> None:
        self.db = db

    def put(self, key: str, data: bytes, mime: str) -> None:
        # Two jobs may store the same image at once: the second insert is a no-op.
        from sqlalchemy.dialects import postgresql, sqlite

        dialect = postgresql if self.db.engine.dialect.name == "postgresql" else sqlite
        # The values go with the execution, not into the statement: SQLAlchemy's cache of
        # compiled statements keeps the first statement of a shape, with whatever it holds.
        statement = dialect.insert(Blob).on_conflict_do_nothing()
        row = {
            "key": check_key(key),
            "mime": mime,
            "size": len(data),
            "data": data,
            "created_at": utcnow(),
        }
        with self.db.session() as s:
            s.execute(statement, row)
            self.db.moved_large_value(s, len(data))

    def get(self, key: str) -> bytes:
        data = self.get_many([key]).get(key)
        if data is None:
            raise BlobMissing(f"The image {key} is missing from the database.")
        return data

    def exists(self, key: str) -> bool:
        return key in self.existing([key])

    def existing(self, keys: list[str]) -> set[str]:
        """Which of the keys are stored, in one query."""
        with self.db.session() as s:
            return set(s.scalars(select(Blob.key).where(Blob.key.in_(keys))))

    def get_many(self, keys: list[str]) -> dict[str, bytes]:
        """The stored ones of the keys, in one query (a missing one is left out)."""
        with self.db.session() as s:
            if self.db.is_postgres:
                # In binary: psycopg otherwise asks for bytea as hex text, which PostgreSQL
                # writes and psycopg decodes at twice the size. A 4.5 MB photo took 42 ms and
                # 25 ms of this process's CPU, now 15 ms and 4 ms (bench/blob_read.py).
                raw = s.connection().connection.driver_connection
                assert raw is not None  # checked out: the session holds it
                with raw.cursor(binary=True) as cur:
                    cur.execute(_READ_BLOBS, [list(keys)])
                    rows = cur.fetchall()
            else:
                rows = s.execute(select(Blob.key, Blob.data).where(Blob.key.in_(keys))).all()
            # libpq's buffer grows to the largest one message: the largest row, not the sum
            self.db.moved_large_value(s, max((len(data) for _, data in rows), default=0))
        return {key: bytes(data) for key, data in rows}

    def delete(self, key: str) -> None:
        with self.db.session() as s:
            s.execute(delete(Blob).where(Blob.key == key))


class LocalBackend:
    """Files under a directory; writes go to a temp file first, so a crash leaves no half file."""

    name = "local"

    def __init__(self, root: Path) -> None:
        self.root = root
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"Cannot create the image folder {root}: {exc.strerror}.") from exc

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def _fail(self, exc: OSError, doing: str) -> StorageError:
        why = exc.strerror or type(exc).__name__
        return StorageError(f"The image folder {self.root} cannot {doing} images ({why}).")

    def put(self, key: str, data: bytes, mime: str) -> None:
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        except OSError as exc:  # read-only, full, or not a folder
            raise self._fail(exc, "store") from exc
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, path)
        except BaseException as exc:
            Path(tmp).unlink(missing_ok=True)
            if isinstance(exc, OSError):
                raise self._fail(exc, "store") from exc
            raise

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError as exc:
            raise BlobMissing(f"The image {key} is missing from {self.root}.") from exc
        except OSError as exc:
            raise self._fail(exc, "read") from exc

    def exists(self, key: str) -> bool:
        try:
            return self._path(key).is_file()
        except OSError as exc:
            raise self._fail(exc, "read") from exc

    def delete(self, key: str) -> None:
        try:
            self._path(key).unlink(missing_ok=True)
        except OSError as exc:
            raise self._fail(exc, "delete") from exc


class S3Backend:
    """Any S3-compatible store (AWS, Supabase Storage, R2, MinIO) through boto3. Endpoint and
    credentials come from the environment boto3 reads: AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY, AWS_REGION (or AWS_DEFAULT_REGION)."""

    name = "s3"

    def __init__(self, bucket: str, prefix: str = "") -> None:
        import boto3
        from botocore.config import Config

        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.client = boto3.client(
            "s3",
            config=Config(
                retries={"max_attempts": 4, "mode": "standard"},
                connect_timeout=5,
                read_timeout=30,
                # boto3 >= 1.36 adds CRC checksums to every upload and checks them on download
                # by default; S3-compatible stores (Supabase Storage among them) reject or do
                # not return them. Only where an operation requires one (as
                # AWS_REQUEST_CHECKSUM_CALCULATION / AWS_RESPONSE_CHECKSUM_VALIDATION would).
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
                # Supabase Storage (and MinIO) serve buckets under the endpoint's path, not as
                # a subdomain: path style wherever an endpoint is given.
                s3={"addressing_style": "path" if os.environ.get("AWS_ENDPOINT_URL") else "auto"},
            ),
        )

    def _name(self, key: str) -> str:
        return self.prefix + check_key(key)

    def _fail(self, exc: Exception, key: str) -> StorageError:
        return StorageError(
            f"The image store s3://{self.bucket}/{self.prefix} failed on {key}: {exc}"
        )

    def put(self, key: str, data: bytes, mime: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.put_object(
                Bucket=self.bucket,
                Key=self._name(key),
                Body=data,
                ContentType=mime,
                CacheControl="max-age=31536000, immutable",
            )
        except (BotoCoreError, ClientError) as exc:
            raise self._fail(exc, key) from exc

    def get(self, key: str) -> bytes:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._name(key))["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise BlobMissing(f"The image {key} is missing from s3://{self.bucket}.") from exc
            raise self._fail(exc, key) from exc
        except BotoCoreError as exc:
            raise self._fail(exc, key) from exc

    def exists(self, key: str) -> bool:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._name(key))
            return True
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise self._fail(exc, key) from exc
        except BotoCoreError as exc:
            raise self._fail(exc, key) from exc

    def get_many(self, keys: list[str]) -> dict[str, bytes]:
        """Several objects at once (a History page's thumbnails): fetched in parallel, a
        missing one left out."""
        from concurrent.futures import ThreadPoolExecutor

        def one(key: str) -> tuple[str, bytes | None]:
            try:
                return key, self.get(key)
            except BlobMissing:
                return key, None

        with ThreadPoolExecutor(max_workers=min(8, len(keys) or 1)) as pool:
            return {k: data for k, data in pool.map(one, keys) if data is not None}

    def delete(self, key: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.delete_object(Bucket=self.bucket, Key=self._name(key))
        except (BotoCoreError, ClientError) as exc:
            raise self._fail(exc, key) from exc


def make_backend(spec: str, db: Database, data_dir: Path) -> Backend:
    """VIBA_STORAGE: `db`, `local` / `local:<dir>`, or `s3://bucket/prefix` (the default is
    chosen in viba.core.config: local files in development, db in production)."""
    spec = (spec or "db").strip()
    if spec == "db":
        return DbBackend(db)
    if spec == "local" or spec.startswith("local:"):
        folder = spec.partition(":")[2].strip()
        root = Path(folder).expanduser() if folder else data_dir / "images"
        return LocalBackend(root if root.is_absolute() else data_dir.parent / root)
    if spec.startswith("s3://"):
        bucket, _, prefix = spec[5:].partition("/")
        if not bucket:
            raise StorageError("VIBA_STORAGE=s3://... needs a bucket name: s3://bucket/prefix.")
        return S3Backend(bucket, prefix)
    raise StorageError(
        f"VIBA_STORAGE={spec!r} is not understood: use db, local:<folder> or s3://bucket/prefix."
    )


@dataclass(frozen=True)
class StoredImage:
    key: str
    thumb_key: str
    mime: str
    # This save stored the image (nobody had these bytes before); not part of its identity.
    created: bool = field(default=False, compare=False)


def thumb_key_for(key: str) -> str:
    check_key(key)
    return "thumb/" + key.split("/", 1)[1].rsplit(".", 1)[0] + ".webp"


def is_upload(key: str) -> bool:
    """An upload kept as it came, not prepared yet (see ImageStore.save_upload)."""
    return key.startswith(UPLOAD_PREFIX)


def mime_for(key: str) -> str:
    return MIME_BY_EXT[check_key(key).rsplit(".", 1)[1]]


SCREEN_SIDE = 1460  # what Streamlit shows an image at, at most (twice its 730 px column)
# libwebp's effort: 2 encodes a 384 px thumbnail in ~2 ms instead of ~5 ms at its default 4,
# and a screen image (1280 px) in ~21 ms instead of ~48, for 3-10% more bytes (six app
# screenshots). A Derivation makes five thumbnails in its worker.
WEBP_METHOD = 2


def _pixel_size(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as probe:
        return probe.size


def make_thumbnail(data: bytes, side: int = THUMB_SIDE) -> bytes:
    with Image.open(io.BytesIO(data)) as opened:
        # reducing_gap 1: a JPEG is decoded at the smallest scale that still covers `side`
        # (Pillow's default 2 asks twice that: a 1K output was decoded whole). 40% less CPU
        # for a 1K photo's thumbnail (12 -> 7 ms); within one level of 255 of a LANCZOS
        # resize of the whole image, on average, like the default.
        opened.thumbnail((side, side), reducing_gap=1.0)
        img: Image.Image = opened
        if img.mode not in ("RGB", "RGBA"):
            img = img.convert("RGBA" if "A" in img.getbands() else "RGB")
        out = io.BytesIO()
        img.save(out, "WEBP", quality=80, method=WEBP_METHOD)
    return out.getvalue()


class ImageStore:
    """Content-addressed images with thumbnails on one backend. `on_delete` holds what else
    must forget a deleted image (the web's thumbnail files, viba.web.thumbnails)."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.on_delete: list[Callable[[str], None]] = []

    def save(self, data: bytes, mime: str) -> StoredImage:
        if mime not in EXTENSIONS:
            raise StorageError(f"Cannot store {mime} images (png, jpeg or webp only).")
        digest = hashlib.sha256(data).hexdigest()
        key = f"img/{digest}.{EXTENSIONS[mime]}"
        thumb = thumb_key_for(key)
        # Each asked once: a put of a key another job stored meanwhile is a no-op anyway.
        have = self._existing([key, thumb])
        created, has_thumb = key not in have, thumb in have
        if not created and has_thumb:
            return StoredImage(key, thumb, mime)
        try:  # first, so that bytes that are not an image are never stored
            small = make_thumbnail(data)
        except (OSError, SyntaxError, ValueError) as exc:
            raise StorageError("That is not an image that can be stored.") from exc
        if created:
            self.backend.put(key, data, mime)
        if not has_thumb:
            self.backend.put(thumb, small, "image/webp")
        return StoredImage(key, thumb, mime, created)

    def _existing(self, keys: list[str]) -> set[str]:
        many = getattr(self.backend, "existing", None)  # one query on the database backend
        if many is not None:
            return set(many(keys))
        return {key for key in keys if self.backend.exists(key)}

    def save_upload(self, data: bytes, mime: str) -> StoredImage:
        """An upload as it came (checked from its header), until a worker prepares it: no
        thumbnail, nothing decoded here."""
        if mime not in UPLOAD_EXTENSIONS:
            raise StorageError(f"Cannot store {mime} uploads.")
        key = f"{UPLOAD_PREFIX}{hashlib.sha256(data).hexdigest()}.{UPLOAD_EXTENSIONS[mime]}"
        created = not self.backend.exists(key)
        if created:
            self.backend.put(key, data, mime)
        return StoredImage(key, "", mime, created)

    def load(self, key: str) -> bytes:
        return self.backend.get(check_key(key))

    def thumbnail(self, key: str) -> bytes:
        return self.backend.get(thumb_key_for(key))

    def screen_image(self, key: str) -> tuple[bytes, tuple[int, int]]:
        """An image at screen size (long side SCREEN_SIDE; WEBP), made when asked, and the
        full image's pixel size. Streamlit would itself decode and re-encode a larger one on
        every draw; a JPEG is decoded here at a reduced scale, a fraction of the memory."""
        data = self.load(key)
        try:
            return make_thumbnail(data, SCREEN_SIDE), _pixel_size(data)
        except (OSError, SyntaxError, ValueError) as exc:
            raise StorageError("That stored image could not be read.") from exc

    def pixel_size(self, key: str) -> tuple[int, int]:
        """A stored image's width and height, from its header."""
        try:
            return _pixel_size(self.load(key))
        except (OSError, SyntaxError, ValueError) as exc:
            raise StorageError("That stored image could not be read.") from exc

    def thumbnails(self, keys: list[str]) -> dict[str, bytes]:
        """The thumbnails of several images (image key -> WEBP bytes; a missing one is left
        out, as is an upload not prepared yet), in one query on the database backend."""
        by_thumb = {thumb_key_for(key): key for key in keys if not is_upload(key)}
        many = getattr(self.backend, "get_many", None)
        if many is not None:
            return {by_thumb[t]: data for t, data in many(list(by_thumb)).items()}
        found = {}
        for thumb, key in by_thumb.items():
            try:
                found[key] = self.backend.get(thumb)
            except BlobMissing:
                continue
        return found

    def delete(self, key: str) -> None:
        """Delete an image and its thumbnail (the caller checked nothing refers to it)."""
        self.backend.delete(check_key(key))
        if not is_upload(key):
            self.backend.delete(thumb_key_for(key))
        for forget in list(self.on_delete):
            forget(key)

    def exists(self, key: str) -> bool:
        return self.backend.exists(check_key(key))
