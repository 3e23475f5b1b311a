"""Draw the web app's icons (static/icons/*.png): the sidebar's "LD" brand mark, a
rounded square with the brand gradient (#4c6ef5 to #15aabf) and white letters, plus a
maskable variant (full bleed, letters inside the safe zone) and a monochrome badge.
Pure Python (zlib): run again only to change them; the PNGs are committed."""

import struct
import zlib
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

START, END = (0x4C, 0x6E, 0xF5), (0x15, 0xAA, 0xBF)
SIZES = {"icon-192.png": 192, "icon-512.png": 512, "apple-touch-icon.png": 180, "favicon-32.png": 32}
MASKABLE = {"maskable-512.png": 512}
BADGE = {"badge-96.png": 96}
SUPERSAMPLE = 3


def _letters(u: float, v: float) -> bool:
    """Whether the point (u, v) of the unit square is on the letters "LD"."""
    stroke = 0.085
    top, bottom = 0.3, 0.7
    # L
    if 0.2 <= u <= 0.2 + stroke and top <= v <= bottom:
        return True
    if 0.2 <= u <= 0.44 and bottom - stroke <= v <= bottom:
        return True
    # D: a stem and a half ring
    if 0.52 <= u <= 0.52 + stroke and top <= v <= bottom:
        return True
    radius, centre_u, centre_v = (bottom - top) / 2, 0.6, (top + bottom) / 2
    if u < centre_u:
        return u >= 0.52 and (top <= v <= top + stroke or bottom - stroke <= v <= bottom)
    distance = ((u - centre_u) ** 2 + (v - centre_v) ** 2) ** 0.5
    return radius - stroke <= distance <= radius


def _inside_rounded_square(u: float, v: float, corner: float) -> bool:
    cu, cv = min(max(u, corner), 1 - corner), min(max(v, corner), 1 - corner)
    return (u - cu) ** 2 + (v - cv) ** 2 <= corner**2


def _pixel(u: float, v: float, *, kind: str) -> tuple[int, int, int, int]:
    if kind == "badge":  # white on transparent: Android draws it in one colour
        return (255, 255, 255, 255) if _letters(u, v) else (0, 0, 0, 0)
    if kind == "maskable":
        letter_u, letter_v = 0.5 + (u - 0.5) / 0.7, 0.5 + (v - 0.5) / 0.7  # letters within the 80% safe zone
        inside, on_letters = True, _letters(letter_u, letter_v)
    else:
        inside, on_letters = _inside_rounded_square(u, v, 0.22), _letters(u, v)
    if not inside:
        return (0, 0, 0, 0)
    if on_letters:
        return (255, 255, 255, 255)
    t = (u + v) / 2
    return (*(round(a + (b - a) * t) for a, b in zip(START, END, strict=True)), 255)


def draw(size: int, *, kind: str = "icon") -> bytes:
    """The PNG bytes of one icon of ``size`` pixels square (anti-aliased by supersampling)."""
    rows = []
    steps = SUPERSAMPLE
    for y in range(size):
        row = bytearray([0])  # filter: none
        for x in range(size):
            total = [0, 0, 0, 0]
            for sy in range(steps):
                for sx in range(steps):
                    pixel = _pixel((x + (sx + 0.5) / steps) / size, (y + (sy + 0.5) / steps) / size, kind=kind)
                    for channel in range(3):
                        total[channel] += pixel[channel] * pixel[3]
                    total[3] += pixel[3]
            alpha = total[3] / steps**2
            colour = [round(total[channel] / total[3]) if total[3] else 0 for channel in range(3)]
            row += bytes([*colour, round(alpha)])
        rows.append(bytes(row))

    def chunk(name: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + name + data + struct.pack(">I", zlib.crc32(name + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"".join(rows), 9))
        + chunk(b"IEND", b"")
    )


class Command(BaseCommand):
    help = "Draw the web app's icons into static/icons/."

    def handle(self, *args, **options):
        folder = Path(settings.BASE_DIR) / "static" / "icons"
        folder.mkdir(parents=True, exist_ok=True)
        for kind, icons in (("icon", SIZES), ("maskable", MASKABLE), ("badge", BADGE)):
            for name, size in icons.items():
                (folder / name).write_bytes(draw(size, kind=kind))
                self.stdout.write(f"static/icons/{name} ({size}x{size})")
