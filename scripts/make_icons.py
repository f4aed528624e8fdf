"""Writes web/icon-192.png and web/icon-512.png (the manifest's icons): the same drawing as
web/icon.svg (an orange square, a yellow glow, a dark cap and base), with only the standard
library (zlib + struct), so no image package is needed."""
import struct
import zlib
from pathlib import Path


def png(size: int) -> bytes:
    s = size / 64
    rows = []
    for y in range(size):
        row = bytearray([0])  # filter: none
        for x in range(size):
            u, v = x / s, y / s
            colour = (0xC9, 0x6A, 0x00)
            if (u - 32) ** 2 + (v - 34) ** 2 <= 16 ** 2:
                colour = (0xFF, 0xD7, 0x6A)
            if 22 <= u < 42 and (8 <= v < 14 or 52 <= v < 57):
                colour = (0x3A, 0x2A, 0x10)
            row += bytes(colour)
        rows.append(bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"".join(rows), 9)) + chunk(b"IEND", b""))


if __name__ == "__main__":
    web = Path(__file__).resolve().parent.parent / "web"
    for size in (192, 512):
        (web / f"icon-{size}.png").write_bytes(png(size))
