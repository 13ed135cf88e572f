# Copyright 2026 The dataloader Authors.
"""Writes the image-decoding and resizing test fixtures in this directory.

Rerun (from anywhere; it writes next to itself, replacing the files):

    /usr/bin/python3 tests/data/images/make_fixtures.py

It needs only Pillow (Debian's python3-pil; written against Pillow 9.4). The output is
deterministic for a given Pillow/libjpeg/zlib: the content comes from a seeded random.Random
and integer or correctly rounded arithmetic only. Another Pillow may encode JPEGs or PNGs to
different bytes; that is fine as long as the sources and their .ref.ppm files are regenerated
together, because every reference is Pillow's decode of the file as written.

Files (see README.md for what the C++ tests should expect of each):

  Decodable sources, each with `<file>.ref.ppm`: Pillow's decode, as binary PPM (P6, 8-bit
  RGB; grayscale sources are converted to RGB, since our decoder always outputs 3 channels).
  All are 61x45 (odd sizes exercise the edges of chroma subsampling), photo-like content:
    rgb_420.jpg      RGB JPEG, quality 90, 4:2:0 chroma subsampling (baseline).
    rgb_444.jpg      RGB JPEG, quality 90, 4:4:4 (no subsampling).
    progressive.jpg  RGB JPEG, quality 90, 4:2:0, progressive.
    gray.jpg         Grayscale (mode L) JPEG, quality 90.
    cmyk.jpg         CMYK JPEG, quality 90. Pillow writes Adobe-style CMYK: an APP14 "Adobe"
                     marker and *inverted* samples (stored value = 255 - ink), as Photoshop
                     does. Reference = Pillow's .convert("RGB") of the decoded CMYK image,
                     which is, per channel, with C, K the ink amounts (0 = no ink):
                         nk = 255 - K
                         R  = nk - MULDIV255(C, nk),  MULDIV255(a, b) = round(a * b / 255)
                     (computed as t = a*b + 128; (t + (t >> 8)) >> 8), i.e.
                     R = round((255 - C) * (255 - K) / 255), and likewise G from M, B from Y.
                     In terms of the stored (inverted) samples Cs = 255 - C, Ks = 255 - K that
                     libjpeg hands back: R = round(Cs * Ks / 255) = (Cs * Ks + 127) // 255.
                     This is Pillow's cmyk2rgb (libImaging/Convert.c, not shipped with the
                     Debian package, so determined by testing): check_cmyk_formula() below
                     verifies it against this Pillow for all 65,536 (C, K) pairs on every run.
    rgb.png          RGB PNG, 8-bit.
    rgba.png         RGBA PNG, 8-bit, alpha varying across the image. Reference =
                     .convert("RGB"), which DROPS alpha (no compositing onto a background).
    gray.png         Grayscale (L) PNG, 8-bit.
    palette.png      Palette (P) PNG, 32 colours, no transparency.
    interlaced.png   8-bit RGB PNG, Adam7-interlaced. Pillow reads interlaced PNGs but does not
                     write them, so this script writes it (write_png below: each of the seven
                     passes' scanlines with filter type 0, one zlib stream, CRCs by zlib.crc32);
                     reference = Pillow's decode of it.
    gray16.png       16-bit grayscale PNG (Pillow mode I;16). Reference = the HIGH BYTE of
                     each 16-bit sample, replicated to R, G and B: written by this script from
                     the samples, not by Pillow's 8-bit conversion (which clips "I" values at
                     255 rather than scaling). The low bytes are deliberately non-trivial, so a
                     decoder that keeps the low byte fails.

  Bad files (no reference; the decoder must return an error, not crash or hang):
    truncated.jpg    rgb_420.jpg cut to half its length.
    corrupt.jpg      rgb_420.jpg with its entropy-coded data (everything between the SOS
                     segment's header and the EOI marker) overwritten with a byte pattern
                     that contains no 0xFF, so no markers appear inside it.
    zero_bytes.jpg   Empty file.
    not_an_image.jpg A text file.
    unsupported.gif  A real (valid) 61x45 GIF: a format the decoder does not support.
    truncated.png    rgb.png cut to half its length.
    corrupt.png      rgb.png whose first scanline has filter type 7 (there are five, 0-4),
                     recompressed with correct CRCs: every chunk is well-formed, the image
                     data is not.
    bomb.jpg         A valid 8x8 baseline JPEG whose SOF0 header is patched to claim
                     30000x30000 pixels (2.7 GB as RGB): must be refused from the header,
                     before any allocation of that size.
    bomb.png         A valid 8x8 RGB PNG whose IHDR is patched to claim 30000x30000, with the
                     IHDR CRC recomputed (zlib.crc32) so that only the size is wrong.

  Resize references (binary PPM, 8-bit RGB), all from resize_src.ppm:
    resize_src.ppm                 64x48 smooth synthetic RGB (gradients and a wide radial
                                   bump: no edges, so small filter differences give small
                                   pixel differences and tolerances are meaningful).
    resize_bilinear_up_97x73.ppm   Image.BILINEAR upscale.
    resize_box_down_32x24.ppm      Image.BOX, integer factor 2: each output pixel is the
                                   rounded mean of a 2x2 block.
    resize_box_down_23x17.ppm      Image.BOX, non-integer factor (~2.78): area-weighted mean.
    resize_bilinear_down_32x24.ppm Image.BILINEAR downscale. NOTE: Pillow's BILINEAR
                                   antialiases when downscaling (its triangle filter's support
                                   is scaled by the factor, so it averages ~4x4 source pixels
                                   here); OpenCV's INTER_LINEAR does not (it samples the 2x2
                                   nearest). Compare our resize with the matching semantics.
  Pillow's resizes are separable, sample at pixel centres ((x + 0.5) * scale - 0.5), and use
  fixed-point coefficients with 8-bit intermediates, so expect off-by-one differences from a
  float implementation: compare with a tolerance (e.g. max abs diff <= 2), not exactly.
"""

import os
import random
import struct
import zlib

from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
WIDTH, HEIGHT = 61, 45


def path(name):
    return os.path.join(HERE, name)


def clamp8(v):
    return 0 if v < 0 else 255 if v > 255 else int(v)


def photo_like(seed, width=WIDTH, height=HEIGHT):
    """Photo-like RGB content: gradient, two soft-edged ellipses, mild noise.

    Only +, *, / and sqrt (all correctly rounded in IEEE arithmetic) and a seeded
    random.Random, so the pixels are the same on every machine and Python version.
    """
    rng = random.Random(seed)
    corners = [[rng.randint(30, 225) for _ in range(3)] for _ in range(4)]
    blobs = []
    for _ in range(2):
        blobs.append(
            dict(
                cx=rng.uniform(0.2, 0.8) * width,
                cy=rng.uniform(0.2, 0.8) * height,
                rx=rng.uniform(0.15, 0.35) * width,
                ry=rng.uniform(0.15, 0.35) * height,
                color=[rng.randint(20, 235) for _ in range(3)],
                soft=rng.uniform(0.05, 0.3),
            )
        )
    pixels = []
    for y in range(height):
        fy = y / (height - 1)
        for x in range(width):
            fx = x / (width - 1)
            rgb = [
                (1 - fx) * (1 - fy) * corners[0][c]
                + fx * (1 - fy) * corners[1][c]
                + (1 - fx) * fy * corners[2][c]
                + fx * fy * corners[3][c]
                for c in range(3)
            ]
            for b in blobs:
                u = (x - b["cx"]) / b["rx"]
                v = (y - b["cy"]) / b["ry"]
                d = (u * u + v * v) ** 0.5
                a = min(1.0, max(0.0, (1.0 - d) / b["soft"] + 0.5))
                rgb = [rgb[c] + a * (b["color"][c] - rgb[c]) for c in range(3)]
            n = rng.randint(-3, 3)  # Luminance noise, as from a sensor.
            pixels.append(tuple(clamp8(round(rgb[c] + n)) for c in range(3)))
    image = Image.new("RGB", (width, height))
    image.putdata(pixels)
    return image


def write_ref(source_name, rgb_image):
    assert rgb_image.mode == "RGB", rgb_image.mode
    rgb_image.save(path(source_name + ".ref.ppm"))  # Pillow writes RGB as binary P6.


def ref_from_file(name):
    """The reference of a source file: Pillow's decode of it, as RGB."""
    with Image.open(path(name)) as image:
        write_ref(name, image.convert("RGB"))


def check_cmyk_formula():
    """Asserts that this Pillow's CMYK->RGB conversion is the formula documented above."""

    def muldiv255(a, b):
        t = a * b + 128
        return ((t >> 8) + t) >> 8

    # Every (C, K) pair, in the C channel; M and Y take other values to catch channel mix-ups.
    samples = [(c, 255 - c, (c * 7) % 256, k) for c in range(256) for k in range(256)]
    cmyk = Image.new("CMYK", (len(samples), 1))
    cmyk.putdata(samples)
    for (c, m, y, k), got in zip(samples, cmyk.convert("RGB").getdata()):
        nk = 255 - k
        want = tuple(nk - muldiv255(v, nk) for v in (c, m, y))
        assert got == want, f"CMYK {(c, m, y, k)}: Pillow gives {got}, formula {want}"
        # The same, as a product of the stored (inverted) samples Cs = 255 - C, Ks = 255 - K.
        assert want == tuple(((255 - v) * nk + 127) // 255 for v in (c, m, y)), (c, m, y, k)


def to_cmyk_with_black(rgb_image):
    """RGB -> CMYK with grey-component replacement, so that K is not all zero.

    (Pillow's own RGB->CMYK conversion sets K = 0 everywhere, which would leave the K channel
    of the decoder untested.)
    """
    samples = []
    for r, g, b in rgb_image.getdata():
        mx = max(r, g, b)
        k = 255 - mx
        if mx == 0:
            samples.append((0, 0, 0, 255))
        else:
            samples.append(tuple((mx - v) * 255 // mx for v in (r, g, b)) + (k,))
    cmyk = Image.new("CMYK", rgb_image.size)
    cmyk.putdata(samples)
    return cmyk


def write_jpeg_fixtures(base):
    base.save(path("rgb_420.jpg"), quality=90, subsampling=2)  # 2 = 4:2:0
    base.save(path("rgb_444.jpg"), quality=90, subsampling=0)  # 0 = 4:4:4
    photo_like(seed=2).save(path("progressive.jpg"), quality=90, subsampling=2, progressive=True)
    photo_like(seed=3).convert("L").save(path("gray.jpg"), quality=90)
    to_cmyk_with_black(photo_like(seed=4)).save(path("cmyk.jpg"), quality=90)
    for name in ("rgb_420.jpg", "rgb_444.jpg", "progressive.jpg", "gray.jpg", "cmyk.jpg"):
        ref_from_file(name)
    with Image.open(path("cmyk.jpg")) as image:
        assert image.mode == "CMYK" and "adobe" in image.info, image.info
        # Pillow reads it with raw mode CMYK;I: the file holds inverted samples.
        assert image.tile[0][3][0] == "CMYK;I", image.tile


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def write_png(name, width, height, raw_scanlines, interlace):
    """Writes an 8-bit RGB PNG from already filtered scanline bytes (one zlib stream)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, interlace)
    with open(path(name), "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.write(png_chunk(b"IHDR", ihdr))
        f.write(png_chunk(b"IDAT", zlib.compress(raw_scanlines, 9)))
        f.write(png_chunk(b"IEND", b""))


# Adam7: (x start, y start, x step, y step) of each pass.
ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def write_interlaced_png(name, image):
    width, height = image.size
    pixels = image.load()
    raw = bytearray()
    for x0, y0, dx, dy in ADAM7:
        for y in range(y0, height, dy):
            row = [pixels[x, y] for x in range(x0, width, dx)]
            if row:
                raw.append(0)  # Filter type 0 (none).
                for rgb in row:
                    raw.extend(rgb)
    write_png(name, width, height, bytes(raw), interlace=1)
    with Image.open(path(name)) as check:
        assert check.info.get("interlace") == 1, check.info
        check.load()
        assert list(check.convert("RGB").getdata()) == list(image.getdata()), "Adam7 round trip"


def write_png_fixtures(base):
    base.save(path("rgb.png"))
    rgba = base.copy()
    alpha = Image.new("L", base.size)
    alpha.putdata([(x * 255 // (WIDTH - 1) + y) % 256 for y in range(HEIGHT) for x in range(WIDTH)])
    rgba.putalpha(alpha)
    rgba.save(path("rgba.png"))
    photo_like(seed=5).convert("L").save(path("gray.png"))
    photo_like(seed=6).quantize(
        colors=32, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
    ).save(path("palette.png"))
    write_interlaced_png("interlaced.png", photo_like(seed=9))
    for name in ("rgb.png", "rgba.png", "gray.png", "palette.png", "interlaced.png"):
        ref_from_file(name)
    with Image.open(path("rgba.png")) as image:
        assert image.mode == "RGBA"
        # convert("RGB") drops alpha: the colour channels are unchanged where alpha is 0.
        assert image.convert("RGB").getpixel((0, 0)) == image.getpixel((0, 0))[:3]
    with Image.open(path("palette.png")) as image:
        assert image.mode == "P" and "transparency" not in image.info

    # 16-bit grayscale: a smooth ramp over the full 16-bit range plus a per-pixel pattern in
    # the low byte.
    samples = [
        min(65535, (x * 65535 // (WIDTH - 1) + y * 1021) % 65536 | ((x * 7 + y * 13) % 256))
        for y in range(HEIGHT)
        for x in range(WIDTH)
    ]
    gray16 = Image.frombytes("I;16", (WIDTH, HEIGHT), struct.pack(f"<{len(samples)}H", *samples))
    gray16.save(path("gray16.png"))
    with Image.open(path("gray16.png")) as image:
        image.load()
        assert image.getpixel((WIDTH - 1, 0)) == samples[WIDTH - 1], image.mode
        assert list(image.getdata()) == samples, "16-bit PNG did not round-trip"
    high = Image.new("RGB", (WIDTH, HEIGHT))
    high.putdata([(s >> 8,) * 3 for s in samples])
    write_ref("gray16.png", high)


def jpeg_segments(data):
    """Yields (marker, offset of the marker, segment length) up to and including SOS."""
    assert data[:2] == b"\xff\xd8", "not a JPEG"
    i = 2
    while i < len(data):
        assert data[i] == 0xFF, f"expected a marker at {i}"
        marker = data[i + 1]
        length = struct.unpack(">H", data[i + 2 : i + 4])[0]
        yield marker, i, length
        if marker == 0xDA:  # SOS: entropy-coded data follows.
            return
        i += 2 + length


def assert_bomb(name):
    """Checks that Pillow reads the patched header as 30000x30000 (and refuses it, too)."""
    try:
        Image.open(path(name))
    except Image.DecompressionBombError as e:
        assert "900000000 pixels" in str(e), e
    else:
        raise AssertionError(f"{name}: Pillow did not see a 30000x30000 image")


def write_bad_fixtures():
    with open(path("rgb_420.jpg"), "rb") as f:
        jpeg = f.read()
    with open(path("truncated.jpg"), "wb") as f:
        f.write(jpeg[: len(jpeg) // 2])

    sos = [(offset, length) for marker, offset, length in jpeg_segments(jpeg) if marker == 0xDA]
    scan_start = sos[0][0] + 2 + sos[0][1]
    assert jpeg[-2:] == b"\xff\xd9", "expected EOI at the end"
    garbage = bytes((i * 37 + 11) % 255 for i in range(len(jpeg) - 2 - scan_start))
    with open(path("corrupt.jpg"), "wb") as f:
        f.write(jpeg[:scan_start] + garbage + jpeg[-2:])

    open(path("zero_bytes.jpg"), "wb").close()
    with open(path("not_an_image.jpg"), "w") as f:
        f.write("This is a text file with a .jpg name, not a JPEG image.\n")

    photo_like(seed=7).convert("P", palette=Image.Palette.ADAPTIVE, colors=64).save(
        path("unsupported.gif")
    )

    with open(path("rgb.png"), "rb") as f:
        png = f.read()
    with open(path("truncated.png"), "wb") as f:
        f.write(png[: len(png) // 2])

    # corrupt.png: the base image's scanlines, unfiltered, with the first one's filter type 7.
    base = photo_like(seed=1)
    raw = bytearray()
    for y in range(HEIGHT):
        raw.append(7 if y == 0 else 0)
        for x in range(WIDTH):
            raw.extend(base.getpixel((x, y)))
    write_png("corrupt.png", WIDTH, HEIGHT, bytes(raw), interlace=0)
    try:
        Image.open(path("corrupt.png")).load()
    except (OSError, SyntaxError, ValueError):
        pass
    else:
        raise AssertionError("Pillow decoded corrupt.png")

    # bomb.jpg: an 8x8 baseline JPEG; SOF0 = FFC0, length(2), precision(1), height(2), width(2).
    small = photo_like(seed=8, width=8, height=8)
    small.save(path("bomb.jpg"), quality=90)
    with open(path("bomb.jpg"), "rb") as f:
        bomb = bytearray(f.read())
    sof = [offset for marker, offset, _ in jpeg_segments(bytes(bomb)) if marker == 0xC0]
    assert len(sof) == 1, "expected one SOF0 segment"
    struct.pack_into(">HH", bomb, sof[0] + 5, 30000, 30000)
    with open(path("bomb.jpg"), "wb") as f:
        f.write(bomb)
    assert_bomb("bomb.jpg")

    # bomb.png: IHDR is the first chunk: length(4) "IHDR"(4) width(4) height(4) ... CRC(4).
    small.save(path("bomb.png"))
    with open(path("bomb.png"), "rb") as f:
        bomb = bytearray(f.read())
    assert bomb[12:16] == b"IHDR"
    struct.pack_into(">II", bomb, 16, 30000, 30000)
    struct.pack_into(">I", bomb, 29, zlib.crc32(bytes(bomb[12:29])))
    with open(path("bomb.png"), "wb") as f:
        f.write(bomb)
    assert_bomb("bomb.png")  # Parses, so the CRC is right.


def write_resize_fixtures():
    width, height = 64, 48
    pixels = []
    for y in range(height):
        for x in range(width):
            r = 20 + x * 215 // (width - 1)
            g = 30 + y * 200 // (height - 1)
            d2 = (x - 40) ** 2 + (y - 20) ** 2
            b = 40 + 180 * 1600 // (1600 + d2)  # A wide, smooth bump.
            pixels.append((r, g, b))
    src = Image.new("RGB", (width, height))
    src.putdata(pixels)
    src.save(path("resize_src.ppm"))
    with Image.open(path("resize_src.ppm")) as src:
        src.load()
        src.resize((97, 73), Image.Resampling.BILINEAR).save(path("resize_bilinear_up_97x73.ppm"))
        src.resize((32, 24), Image.Resampling.BOX).save(path("resize_box_down_32x24.ppm"))
        src.resize((23, 17), Image.Resampling.BOX).save(path("resize_box_down_23x17.ppm"))
        src.resize((32, 24), Image.Resampling.BILINEAR).save(
            path("resize_bilinear_down_32x24.ppm")
        )


def main():
    check_cmyk_formula()
    base = photo_like(seed=1)
    write_jpeg_fixtures(base)
    write_png_fixtures(base)
    write_bad_fixtures()
    write_resize_fixtures()
    names = sorted(n for n in os.listdir(HERE) if n not in ("make_fixtures.py", "README.md"))
    total = sum(os.path.getsize(path(n)) for n in names)
    print(f"wrote {len(names)} files, {total} bytes, to {HERE}")


if __name__ == "__main__":
    main()
