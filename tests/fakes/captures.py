"""Generated screen captures and graphics of the kinds Korean posts carry, for the image filter's labelled set.

Each one is drawn the way the real screen looks: a phone status bar, the app's header, avatars (small photos
or flat icons), bubbles or rows with Hangul text and Latin timestamps, separators, an input bar. Colours are the
apps' own (KakaoTalk's blue-grey background and yellow bubbles, LINE's green, iOS SMS blue and grey, X's black).
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from tests.fakes.glyphs import latin_mask, put, text_mask, wrap_lines
from tests.fakes.photo_scenes import PHOTO_KINDS, photo

RGB = tuple[int, int, int]

CHAT_THEMES: dict[str, dict[str, RGB]] = {
    "kakao_light": {
        "bg": (178, 199, 217),
        "other": (255, 255, 255),
        "mine": (254, 229, 0),
        "text": (25, 25, 25),
        "mine_text": (25, 25, 25),
        "meta": (85, 95, 110),
        "bar": (169, 189, 206),
        "input": (255, 255, 255),
    },
    "kakao_dark": {
        "bg": (32, 32, 34),
        "other": (56, 56, 58),
        "mine": (254, 229, 0),
        "text": (235, 235, 235),
        "mine_text": (25, 25, 25),
        "meta": (140, 140, 140),
        "bar": (24, 24, 26),
        "input": (44, 44, 46),
    },
    "line": {
        "bg": (140, 171, 217),
        "other": (255, 255, 255),
        "mine": (133, 226, 73),
        "text": (20, 20, 20),
        "mine_text": (20, 20, 20),
        "meta": (60, 70, 90),
        "bar": (36, 47, 65),
        "input": (255, 255, 255),
    },
    "sms": {
        "bg": (255, 255, 255),
        "other": (233, 233, 235),
        "mine": (10, 132, 255),
        "text": (10, 10, 10),
        "mine_text": (255, 255, 255),
        "meta": (142, 142, 147),
        "bar": (247, 247, 247),
        "input": (255, 255, 255),
    },
    "sms_dark": {
        "bg": (0, 0, 0),
        "other": (38, 38, 40),
        "mine": (10, 132, 255),
        "text": (245, 245, 245),
        "mine_text": (255, 255, 255),
        "meta": (142, 142, 147),
        "bar": (22, 22, 24),
        "input": (28, 28, 30),
    },
}


def _avatar(size: int, rng: np.random.Generator, *, round_: bool) -> tuple[Image.Image, Image.Image]:
    """A profile picture (a small photo, or the app's flat default icon) and its mask."""
    if rng.random() < 0.6:
        pic = photo(str(rng.choice(PHOTO_KINDS)), size * 2, size * 2, int(rng.integers(0, 10_000))).resize(
            (size, size), Image.Resampling.LANCZOS
        )
    else:
        pic = Image.new("RGB", (size, size), (159, 196, 230))
        d = ImageDraw.Draw(pic)
        d.ellipse([size * 0.3, size * 0.18, size * 0.7, size * 0.58], fill=(255, 255, 255))
        d.ellipse([size * 0.12, size * 0.62, size * 0.88, size * 1.3], fill=(255, 255, 255))
    mask = Image.new("L", (size * 4, size * 4), 0)
    md = ImageDraw.Draw(mask)
    if round_:
        md.ellipse([0, 0, size * 4 - 1, size * 4 - 1], fill=255)
    else:
        md.rounded_rectangle([0, 0, size * 4 - 1, size * 4 - 1], radius=size * 4 * 0.38, fill=255)
    return pic, mask.resize((size, size), Image.Resampling.LANCZOS)


def _status_bar(img: Image.Image, height: int, bg: RGB, fg: RGB, rng: np.random.Generator) -> None:
    d = ImageDraw.Draw(img)
    d.rectangle([0, 0, img.width, height], fill=bg)
    size = max(8, height // 2)
    put(
        img,
        latin_mask(f"{int(rng.integers(1, 12))}:{int(rng.integers(0, 60)):02d}", size),
        (height // 2, height // 4),
        fg,
    )
    bx = img.width - height * 2
    d.rounded_rectangle([bx, height * 0.3, bx + height * 1.1, height * 0.7], radius=3, outline=fg, width=2)
    d.rectangle([bx + 3, height * 0.3 + 3, bx + height * 0.8, height * 0.7 - 3], fill=fg)
    for i in range(4):
        d.rectangle(
            [
                bx - height * 1.6 + i * height * 0.22,
                height * (0.65 - 0.1 * i),
                bx - height * 1.6 + i * height * 0.22 + height * 0.14,
                height * 0.7,
            ],
            fill=fg,
        )


def chat_capture(width: int, height: int, theme: str, seed: int, *, wallpaper: bool = False) -> Image.Image:
    """A messenger screen: status bar, room header, a date divider, bubbles both ways (now and then a photo
    someone sent), the input bar. With `wallpaper` the room has a photo as its background, as users set."""
    rng = np.random.default_rng(seed)
    t = CHAT_THEMES[theme]
    img = Image.new("RGB", (width, height), t["bg"])
    if wallpaper:
        back = photo(str(rng.choice(PHOTO_KINDS)), width // 2, height // 2, seed + 1)
        img = back.resize((width, height), Image.Resampling.BICUBIC).filter(ImageFilter.GaussianBlur(2))
    d = ImageDraw.Draw(img)
    unit = width / 360
    bar_h = int(24 * unit)
    header_h = int(48 * unit)
    _status_bar(img, bar_h, t["bar"], t["text"] if theme != "line" else (255, 255, 255), rng)
    d.rectangle([0, bar_h, width, bar_h + header_h], fill=t["bar"])
    title_colour = (255, 255, 255) if theme == "line" else t["text"]
    put(
        img,
        text_mask(int(15 * unit), rng, chars=int(rng.integers(3, 7)), latin=str(rng.integers(3, 30)), bold=True),
        (int(48 * unit), bar_h + int(14 * unit)),
        title_colour,
    )
    d.line(
        [(14 * unit, bar_h + 24 * unit), (24 * unit, bar_h + 14 * unit)], fill=title_colour, width=max(2, int(2 * unit))
    )
    d.line(
        [(14 * unit, bar_h + 24 * unit), (24 * unit, bar_h + 34 * unit)], fill=title_colour, width=max(2, int(2 * unit))
    )
    input_h = int(52 * unit)
    d.rectangle([0, height - input_h, width, height], fill=t["input"])
    d.rounded_rectangle(
        [44 * unit, height - input_h + 9 * unit, width - 56 * unit, height - 9 * unit],
        radius=16 * unit,
        fill=t["bg"] if theme.startswith("sms") else t["input"],
        outline=t["meta"],
        width=1,
    )
    d.text((14 * unit, height - input_h + 10 * unit), "+", fill=t["meta"])
    y = bar_h + header_h + int(14 * unit)
    if rng.random() < 0.7:
        pill = text_mask(int(11 * unit), rng, chars=8, latin="2026")
        pw = pill.width + int(20 * unit)
        x0 = (width - pw) // 2
        d.rounded_rectangle(
            [x0, y, x0 + pw, y + pill.height + 6 * unit], radius=10 * unit, fill=tuple(int(c * 0.85) for c in t["bg"])
        )
        put(img, pill, (x0 + int(10 * unit), y + int(3 * unit)), t["meta"])
        y += pill.height + int(20 * unit)
    font = int(rng.choice([13, 14, 15, 16]) * unit)
    avatar_size = int(38 * unit)
    while y < height - input_h - 40 * unit:
        mine = rng.random() < 0.45
        if rng.random() < 0.12 and y + width * 0.5 < height - input_h:  # a photo sent in the chat
            pw, ph = int(width * 0.55), int(width * 0.45)
            sent = photo(str(rng.choice(PHOTO_KINDS)), pw, ph, int(rng.integers(0, 10_000)))
            corner = Image.new("L", (pw, ph), 0)
            ImageDraw.Draw(corner).rounded_rectangle([0, 0, pw - 1, ph - 1], radius=int(12 * unit), fill=255)
            img.paste(sent, (width - int(12 * unit) - pw if mine else int(56 * unit), y), corner)
            y += ph + int(10 * unit)
            continue
        lines = wrap_lines(font, rng, int(width * 0.58), int(rng.integers(2, 30)))
        line_h = int(font * 1.45)
        bw = max(m.width for m in lines) + int(22 * unit)
        bh = line_h * len(lines) + int(14 * unit)
        if y + bh > height - input_h - 8 * unit:
            break
        stamp = latin_mask(
            f"{'PM' if rng.random() < 0.5 else 'AM'} {int(rng.integers(1, 12))}:{int(rng.integers(0, 60)):02d}",
            int(10 * unit),
        )
        if mine:
            x0 = width - int(12 * unit) - bw
            put(img, stamp, (x0 - stamp.width - int(5 * unit), y + bh - stamp.height), t["meta"])
            colour, ink = t["mine"], t["mine_text"]
        else:
            x0 = int(56 * unit)
            if rng.random() < 0.7:
                pic, mask = _avatar(avatar_size, rng, round_=not theme.startswith("kakao"))
                img.paste(pic, (int(10 * unit), y), mask)
                put(img, text_mask(int(12 * unit), rng, chars=int(rng.integers(2, 5))), (x0, y), t["meta"])
                y += int(18 * unit)
            put(img, stamp, (x0 + bw + int(5 * unit), y + bh - stamp.height), t["meta"])
            colour, ink = t["other"], t["text"]
        d.rounded_rectangle([x0, y, x0 + bw, y + bh], radius=int(rng.choice([8, 12, 17]) * unit), fill=colour)
        for i, m in enumerate(lines):
            put(img, m, (x0 + int(11 * unit), y + int(7 * unit) + i * line_h), ink)
        y += bh + int(rng.integers(6, 16) * unit)
    return img


def board_capture(width: int, height: int, seed: int, *, with_photo: bool, comments: bool) -> Image.Image:
    """A community board post (title, author row, body paragraphs, maybe a photo) and its comment list."""
    rng = np.random.default_rng(seed)
    img = Image.new("RGB", (width, height), (255, 255, 255))
    d = ImageDraw.Draw(img)
    unit = width / 400
    accent = [(59, 77, 160), (48, 107, 214), (230, 84, 39), (40, 40, 40)][int(rng.integers(0, 4))]
    d.rectangle([0, 0, width, 44 * unit], fill=accent)
    put(img, text_mask(int(17 * unit), rng, chars=5, bold=True), (int(12 * unit), int(10 * unit)), (255, 255, 255))
    y = int(58 * unit)
    put(
        img,
        text_mask(
            int(18 * unit), rng, chars=int(rng.integers(8, 18)), latin="[" + str(rng.integers(1, 99)) + "]", bold=True
        ),
        (int(12 * unit), y),
        (17, 17, 17),
    )
    y += int(32 * unit)
    meta = (136, 136, 136)
    put(
        img,
        text_mask(int(12 * unit), rng, chars=4, latin=f"2026.11.{int(rng.integers(1, 30)):02d} 13:0{seed % 10}"),
        (int(12 * unit), y),
        meta,
    )
    y += int(22 * unit)
    d.line([(0, y), (width, y)], fill=(230, 230, 230), width=max(1, int(unit)))
    y += int(14 * unit)
    body = int(rng.choice([14, 15, 16]) * unit)
    paragraphs = int(rng.integers(2, 5))
    for p in range(paragraphs):
        for m in wrap_lines(body, rng, int(width - 24 * unit), int(rng.integers(10, 60))):
            if y > height - 40 * unit:
                return img
            put(img, m, (int(12 * unit), y), (34, 34, 34))
            y += int(body * 1.7)
        y += int(body * 0.8)
        if with_photo and p == 0:
            ph = int(min(height * 0.35, width * 0.6))
            pic = photo(str(rng.choice(PHOTO_KINDS)), int(width - 24 * unit), ph, seed + 5)
            img.paste(pic, (int(12 * unit), y))
            y += ph + int(14 * unit)
    if comments:
        d.rectangle([0, y, width, y + 34 * unit], fill=(245, 246, 248))
        put(
            img,
            text_mask(int(13 * unit), rng, chars=2, latin=f"[{int(rng.integers(3, 300))}]", bold=True),
            (int(12 * unit), y + int(8 * unit)),
            accent,
        )
        y += int(40 * unit)
        while y < height - 50 * unit:
            put(
                img,
                text_mask(int(12 * unit), rng, chars=int(rng.integers(2, 6)), bold=True),
                (int(12 * unit), y),
                (51, 51, 51),
            )
            put(
                img,
                latin_mask(f"11.{int(rng.integers(1, 30)):02d} {int(rng.integers(0, 24)):02d}:12", int(11 * unit)),
                (int(width - 90 * unit), y),
                meta,
            )
            y += int(20 * unit)
            for m in wrap_lines(int(13 * unit), rng, int(width - 30 * unit), int(rng.integers(3, 40))):
                put(img, m, (int(12 * unit), y), (34, 34, 34))
                y += int(20 * unit)
            y += int(8 * unit)
            d.line([(0, y), (width, y)], fill=(238, 238, 238), width=max(1, int(unit)))
            y += int(10 * unit)
    return img


def tweet_capture(width: int, height: int, seed: int, *, dim: bool = False) -> Image.Image:
    """A dark-mode social post: avatar, name and handle, text, maybe a picture, the action row, replies."""
    rng = np.random.default_rng(seed)
    bg: RGB = (21, 32, 43) if dim else (0, 0, 0)
    img = Image.new("RGB", (width, height), bg)
    d = ImageDraw.Draw(img)
    unit = width / 400
    grey: RGB = (113, 118, 123)
    y = int(16 * unit)
    while y < height - 60 * unit:
        pic, mask = _avatar(int(40 * unit), rng, round_=True)
        img.paste(pic, (int(12 * unit), y), mask)
        x = int(62 * unit)
        w, _ = put(
            img, text_mask(int(15 * unit), rng, chars=int(rng.integers(2, 6)), bold=True), (x, y), (231, 233, 234)
        )
        put(
            img,
            latin_mask(f"@user{int(rng.integers(10, 9999))} · {int(rng.integers(1, 23))}h", int(14 * unit)),
            (x + w + int(4 * unit), y + int(1 * unit)),
            grey,
        )
        y += int(22 * unit)
        size = int(15 * unit)
        for m in wrap_lines(size, rng, int(width - 80 * unit), int(rng.integers(8, 70))):
            put(img, m, (x, y), (231, 233, 234))
            y += int(size * 1.4)
        if rng.random() < 0.35 and y < height * 0.6:
            ph = int(width * 0.45)
            inner = photo(str(rng.choice(PHOTO_KINDS)), int(width - 76 * unit), ph, seed + y)
            mask_img = Image.new("L", inner.size, 0)
            ImageDraw.Draw(mask_img).rounded_rectangle(
                [0, 0, inner.width - 1, inner.height - 1], radius=int(16 * unit), fill=255
            )
            img.paste(inner, (x, y + int(8 * unit)), mask_img)
            y += ph + int(16 * unit)
        y += int(8 * unit)
        for i in range(4):
            ix = x + int(i * 80 * unit)
            d.ellipse([ix, y, ix + 14 * unit, y + 14 * unit], outline=grey, width=max(1, int(1.5 * unit)))
            put(img, latin_mask(str(int(rng.integers(0, 999))), int(12 * unit)), (ix + int(20 * unit), y), grey)
        y += int(28 * unit)
        d.line([(0, y), (width, y)], fill=(47, 51, 54), width=max(1, int(unit)))
        y += int(12 * unit)
    return img


def tweet_photo_capture(width: int, seed: int, *, dim: bool = False) -> Image.Image:
    """One dark-mode post opened full screen: header, two lines of text, a big photo, the time and view
    count, the counts and action rows. Most of the capture is the photo; the rest is the app around it."""
    rng = np.random.default_rng(seed)
    unit = width / 400
    photo_w = int(width - 24 * unit)
    photo_h = int(photo_w * rng.uniform(0.6, 1.0))
    height = int(photo_h + 260 * unit)
    bg: RGB = (21, 32, 43) if dim else (0, 0, 0)
    img = Image.new("RGB", (width, height), bg)
    d = ImageDraw.Draw(img)
    grey: RGB = (113, 118, 123)
    white: RGB = (231, 233, 234)
    pic, mask = _avatar(int(40 * unit), rng, round_=True)
    img.paste(pic, (int(12 * unit), int(12 * unit)), mask)
    put(img, text_mask(int(15 * unit), rng, chars=4, bold=True), (int(62 * unit), int(14 * unit)), white)
    put(img, latin_mask(f"@user{int(rng.integers(10, 9999))}", int(14 * unit)), (int(62 * unit), int(34 * unit)), grey)
    y = int(64 * unit)
    for m in wrap_lines(int(16 * unit), rng, int(width - 24 * unit), int(rng.integers(12, 40))):
        put(img, m, (int(12 * unit), y), white)
        y += int(22 * unit)
    y += int(6 * unit)
    inner = photo(str(rng.choice(PHOTO_KINDS)), photo_w, photo_h, seed + 3)
    corner = Image.new("L", inner.size, 0)
    ImageDraw.Draw(corner).rounded_rectangle([0, 0, photo_w - 1, photo_h - 1], radius=int(14 * unit), fill=255)
    img.paste(inner, (int(12 * unit), y), corner)
    y += photo_h + int(12 * unit)
    put(
        img,
        latin_mask(
            f"3:{int(rng.integers(10, 59))} PM · Nov 30, 2026 · {int(rng.integers(2, 99))}K Views", int(13 * unit)
        ),
        (int(12 * unit), y),
        grey,
    )
    y += int(26 * unit)
    for _ in range(2):
        d.line([(int(12 * unit), y), (width - int(12 * unit), y)], fill=(47, 51, 54), width=max(1, int(unit)))
        y += int(10 * unit)
        for i in range(4):
            ix = int(12 * unit + i * 95 * unit)
            d.ellipse([ix, y, ix + 16 * unit, y + 16 * unit], outline=grey, width=max(1, int(1.5 * unit)))
            put(img, latin_mask(str(int(rng.integers(0, 9999))), int(12 * unit)), (ix + int(22 * unit), y), grey)
        y += int(28 * unit)
    return img


def text_scan(width: int, height: int, seed: int, *, tilt: float = 0.0, shadow: bool = False) -> Image.Image:
    """A scanned or photocopied page: paper tone with grain and uneven light, printed lines, a little blur;
    optionally fed in at a slight `tilt` (degrees) and with the dark shadow of the binding along one side."""
    rng = np.random.default_rng(seed)
    page = Image.new("L", (width, height), 0)
    unit = width / 600
    size = int(rng.choice([12, 14, 16]) * unit)
    y = int(50 * unit)
    while y < height - 50 * unit:
        for m in wrap_lines(size, rng, int(width - 100 * unit), int(rng.integers(20, 80))):
            if y > height - 50 * unit:
                break
            page.paste(255, (int(50 * unit), y, int(50 * unit) + m.width, y + m.height), m)
            y += int(size * 1.8)
        y += int(size * 1.2)
    if tilt:
        page = page.rotate(tilt, resample=Image.Resampling.BILINEAR)
    ink = np.asarray(page, np.float32) / 255.0
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    light = 1 - 0.08 * ((xx / width - rng.uniform(0.3, 0.7)) ** 2 + (yy / height - 0.5) ** 2)
    paper = np.asarray(rng.choice([[243, 240, 232], [250, 250, 250], [236, 233, 220]]), np.float32)
    grain = rng.normal(0, rng.uniform(2.0, 5.0), (height, width)).astype(np.float32)
    if shadow:  # the gutter of a book pressed on the glass: dark at the edge, fading into the page
        light = light * (1 - 0.85 * np.exp(-xx / (width * 0.04)))
    specks = (rng.random((height, width)) < 0.0004).astype(np.float32)
    ink = np.maximum(ink, specks)  # dust on the glass
    base = paper[None, None, :] * light[..., None] + grain[..., None]
    out = base * (1 - ink[..., None] * rng.uniform(0.75, 0.9))
    return Image.fromarray(np.clip(out, 0, 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(0.6))


def silhouette(
    width: int, height: int, seed: int, *, colour: RGB = (0, 0, 0), bg: RGB = (255, 255, 255)
) -> Image.Image:
    """Clipart: an animal-like silhouette (body, neck, head, legs, tail) in one colour on a plain background."""
    rng = np.random.default_rng(seed)
    big = Image.new("RGB", (width * 2, height * 2), bg)
    d = ImageDraw.Draw(big)
    w, h = width * 2, height * 2
    cx, cy = w * rng.uniform(0.42, 0.58), h * rng.uniform(0.42, 0.55)
    bw, bh = w * rng.uniform(0.22, 0.3), h * rng.uniform(0.1, 0.15)
    d.ellipse([cx - bw, cy - bh, cx + bw, cy + bh], fill=colour)
    d.polygon(
        [
            (cx + bw * 0.6, cy - bh * 0.5),
            (cx + bw * 1.2, cy - bh * 2.6),
            (cx + bw * 1.45, cy - bh * 2.4),
            (cx + bw * 1.0, cy),
        ],
        fill=colour,
    )
    d.ellipse([cx + bw * 1.1, cy - bh * 2.9, cx + bw * 1.75, cy - bh * 2.1], fill=colour)
    for k in range(4):
        lx = cx - bw * 0.8 + k * bw * 0.5
        d.line([(lx, cy), (lx + rng.uniform(-0.2, 0.2) * bw, cy + bh * 3.2)], fill=colour, width=int(bw * 0.14))
    d.line([(cx - bw, cy - bh * 0.3), (cx - bw * 1.5, cy + bh * 1.5)], fill=colour, width=int(bw * 0.12))
    return big.resize((width, height), Image.Resampling.LANCZOS)


def clipart(width: int, height: int, seed: int) -> Image.Image:
    """A vector-style illustration: flat fills with outlines and linear gradients, on white or a pale tint."""
    rng = np.random.default_rng(seed)
    bg = (255, 255, 255) if rng.random() < 0.6 else tuple(int(v) for v in rng.integers(220, 256, 3))
    img = Image.new("RGB", (width, height), bg)
    d = ImageDraw.Draw(img)
    for _ in range(int(rng.integers(4, 10))):
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        x0, y0 = rng.uniform(0.05, 0.7) * width, rng.uniform(0.05, 0.7) * height
        x1, y1 = x0 + rng.uniform(0.1, 0.3) * width, y0 + rng.uniform(0.1, 0.3) * height
        shape = int(rng.integers(0, 3))
        if shape == 0:
            d.ellipse([x0, y0, x1, y1], fill=colour, outline=(30, 30, 30), width=3)
        elif shape == 1:
            d.rounded_rectangle([x0, y0, x1, y1], radius=12, fill=colour, outline=(30, 30, 30), width=3)
        else:
            d.polygon([(x0, y1), ((x0 + x1) / 2, y0), (x1, y1)], fill=colour, outline=(30, 30, 30))
    if rng.random() < 0.5:  # one gradient-filled shape, as vector art often has
        gx0, gy0 = int(width * 0.3), int(height * 0.6)
        gw, gh = int(width * 0.4), int(height * 0.3)
        ramp = np.linspace(0, 1, gw, dtype=np.float32)[None, :, None]
        a, b = rng.integers(0, 256, 3).astype(np.float32), rng.integers(0, 256, 3).astype(np.float32)
        grad = Image.fromarray((a * (1 - ramp) + b * ramp).repeat(gh, 0).astype(np.uint8))
        mask = Image.new("L", (gw, gh), 0)
        ImageDraw.Draw(mask).ellipse([0, 0, gw - 1, gh - 1], fill=255)
        img.paste(grad, (gx0, gy0), mask)
    return img


def cartoon_meme(width: int, height: int, seed: int) -> Image.Image:
    """A flat reaction image: a plain face on a flat background with a caption bar of text."""
    rng = np.random.default_rng(seed)
    bg = tuple(int(v) for v in rng.integers(120, 256, 3))
    img = Image.new("RGB", (width, height), bg)
    d = ImageDraw.Draw(img)
    s = min(width, height)
    cx, cy = width / 2, height * 0.45
    d.ellipse(
        [cx - s * 0.3, cy - s * 0.3, cx + s * 0.3, cy + s * 0.3],
        fill=(255, 255, 255),
        outline=(0, 0, 0),
        width=max(3, s // 120),
    )
    for ex in (-0.11, 0.11):
        d.ellipse([cx + ex * s - s * 0.03, cy - s * 0.1, cx + ex * s + s * 0.03, cy - s * 0.02], fill=(0, 0, 0))
    d.arc([cx - s * 0.14, cy - s * 0.02, cx + s * 0.14, cy + s * 0.18], 200, 340, fill=(0, 0, 0), width=max(3, s // 80))
    bar = int(height * 0.16)
    d.rectangle([0, height - bar, width, height], fill=(255, 255, 255))
    caption = text_mask(int(bar * 0.45), rng, chars=int(rng.integers(4, 10)), bold=True)
    put(img, caption, (max(0, (width - caption.width) // 2), height - bar + int(bar * 0.2)), (0, 0, 0))
    return img


def palette_gif_frames(width: int, height: int, seed: int, frames: int = 3) -> list[Image.Image]:
    """An animated reaction GIF: a cartoon moving across frames, each quantised to a 256-colour palette."""
    out = []
    for k in range(frames):
        base = cartoon_meme(width, height, seed) if k % 2 == 0 else clipart(width, height, seed + k)
        out.append(base.quantize(colors=64, dither=Image.Dither.FLOYDSTEINBERG))
    return out
