"""Storage of files the bot uploads, so tests can inspect the bytes and the bot can reuse file_ids."""

from __future__ import annotations

import mimetypes
import struct
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class StoredFile:
    """An uploaded file as Telegram would keep it."""

    file_id: str
    file_unique_id: str
    data: bytes
    filename: str
    mime_type: str
    path: str
    width: int | None = None
    height: int | None = None
    declared_size: int | None = None
    """A user's upload is described, not carried: its size (its bytes are zeros)."""

    @property
    def size(self) -> int:
        return len(self.data) if self.declared_size is None else self.declared_size

    def content(self) -> bytes:
        """The bytes a download gets."""
        return self.data if self.declared_size is None else bytes(self.declared_size)

    def photo_size(self) -> dict[str, Any]:
        """Bot API PhotoSize."""
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "width": self.width or 0,
            "height": self.height or 0,
            "file_size": self.size,
        }

    def document(self) -> dict[str, Any]:
        """Bot API Document."""
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_name": self.filename,
            "mime_type": self.mime_type,
            "file_size": self.size,
        }

    def file(self) -> dict[str, Any]:
        """Bot API File, as getFile answers."""
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": self.size,
            "file_path": self.path,
        }


class FileStore:
    """file_id and file_path lookups over everything uploaded."""

    def __init__(self) -> None:
        self._by_id: dict[str, StoredFile] = {}
        self._by_path: dict[str, StoredFile] = {}

    def put(
        self, data: bytes, filename: str, folder: str, size: tuple[int, int] | None = None
    ) -> StoredFile:
        """Store bytes under a fresh file_id."""
        number = len(self._by_id) + 1
        mime = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        suffix = filename.rsplit(".", 1)[1] if "." in filename else "bin"
        stored = StoredFile(
            file_id=f"BQACAgIAAx{number:08d}fake",
            file_unique_id=f"AgAD{number:06d}",
            data=data,
            filename=filename,
            mime_type=mime,
            path=f"{folder}/file_{number}.{suffix}",
            width=size[0] if size else None,
            height=size[1] if size else None,
        )
        self._by_id[stored.file_id] = stored
        self._by_path[stored.path] = stored
        return stored

    def put_upload(self, filename: str, size: int) -> StoredFile:
        """A document a user sent: Telegram gives it ids; the fake keeps its name and size."""
        number = len(self._by_id) + 1
        mime = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        suffix = filename.rsplit(".", 1)[1] if "." in filename else "bin"
        stored = StoredFile(
            file_id=f"BQACAgUAAx{number:08d}user",
            file_unique_id=f"AgAE{number:06d}",
            data=b"",
            filename=filename,
            mime_type=mime,
            path=f"documents/file_{number}.{suffix}",
            declared_size=size,
        )
        self._by_id[stored.file_id] = stored
        self._by_path[stored.path] = stored
        return stored

    def get(self, file_id: str) -> StoredFile | None:
        """Look a file up by file_id."""
        return self._by_id.get(file_id)

    def by_path(self, path: str) -> StoredFile | None:
        """Look a file up by the file_path getFile returned."""
        return self._by_path.get(path)


def image_size(data: bytes) -> tuple[int, int] | None:
    """Width and height of a PNG, GIF or JPEG; None for bytes Telegram could not process."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        width, height = struct.unpack("<HH", data[6:10])
        return int(width), int(height)
    if data.startswith(b"\xff\xd8"):
        return _jpeg_size(data)
    return None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    """Walk JPEG segments to the first start-of-frame marker."""
    i = 2
    while i + 9 <= len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        length = struct.unpack(">H", data[i + 2 : i + 4])[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[i + 5 : i + 9])
            return int(width), int(height)
        i += 2 + length
    return None
