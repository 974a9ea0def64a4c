"""Reposts keep the container and codec quirks of the phones, TV captures and apps they came
through; the same footage must fingerprint alike through each of them.

Every file here is made by PyAV from the first seconds of a shared video (doorknob, 1280x720
at square pixels) and compared with the shared original as a user would: does it match, and
do the pictures the signals see look like the original's.
"""

from __future__ import annotations

import io
import json
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from media import BRIDGE, DOORKNOB, read_frames, run_cli, single
from PIL import Image, ImageDraw

from fingerprint import MediaError, find_matches, fingerprint_file
from fingerprint.decode import decode

SECONDS = 4.0


@pytest.fixture(scope="module")
def footage() -> list[np.ndarray]:
    """The original (its 4 s: fewer let border detection crop a still shot), RGB at 640x360."""
    frames, _, _ = read_frames(DOORKNOB, end=SECONDS, scale=0.5)
    return frames


def encode(
    path: Path,
    frames: Iterable[np.ndarray],
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    sar: Fraction | None = None,
    rate: int = 30,
    x264_params: str | None = None,
) -> Path:
    """Encode RGB frames at ``rate`` fps; ``sar`` goes in the bitstream and (MP4) the
    container; the container is the one the file name's suffix says."""
    frames = list(frames)
    height, width = frames[0].shape[:2]
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=rate)
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        stream.options = {"preset": "ultrafast", "crf": "18"}
        if codec == "libx265":
            stream.options["x265-params"] = "log-level=error"
        if x264_params:
            stream.options["x264-params"] = x264_params
        if sar is not None:
            stream.codec_context.sample_aspect_ratio = sar
            stream.sample_aspect_ratio = sar
        for pixels in frames:
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(pixels), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


def squeezed(frames: list[np.ndarray], size: tuple[int, int]) -> list[np.ndarray]:
    """The frames resized to ``size`` (width, height) whatever their aspect: anamorphic."""
    return [np.asarray(Image.fromarray(f).resize(size, Image.Resampling.BICUBIC)) for f in frames]


def greys(path: Path) -> list[np.ndarray]:
    _, samples = decode(path, path.name)
    return [sample.grey for sample in samples]


def differences(a: list[np.ndarray], b: list[np.ndarray]) -> list[float]:
    """Mean grey-level difference of each pair of samples (the same number of each)."""
    return [np.abs(x.astype(int) - y.astype(int)).mean() for x, y in zip(a, b, strict=True)]


def assert_matches_the_original(path: Path) -> None:
    lib = single(DOORKNOB)
    [match] = find_matches(fingerprint_file(path), lib.index, lib.load)
    assert match.score >= 0.8
    assert abs(match.ref_start - match.query_start) < 0.5  # at the same time of the footage


@pytest.mark.parametrize(
    "codec, pix_fmt",
    [("libx264", "yuv420p10le"), ("libx265", "yuv420p10le"), ("libx264", "yuv444p10le")],
)
def test_ten_bit_video_is_the_same_picture_as_eight_bit(
    tmp_path: Path, footage: list[np.ndarray], codec: str, pix_fmt: str
) -> None:
    # Phones record 10-bit HEVC; its luma samples are 16-bit words.  Read as bytes they were
    # a scrambled picture, and the repost matched nothing.
    eight = greys(encode(tmp_path / "8bit.mp4", footage))
    deep = greys(encode(tmp_path / "10bit.mp4", footage, codec, pix_fmt))
    assert all(a.shape == b.shape == (144, 256) for a, b in zip(eight, deep, strict=True))
    assert max(differences(eight, deep)) < 3
    assert_matches_the_original(tmp_path / "10bit.mp4")


@pytest.mark.parametrize(
    "name, size, sar",
    [
        # DVB/PAL widescreen, SAR in the H.264 stream only (Matroska keeps no copy here)
        ("dvb.mkv", (720, 576), Fraction(64, 45)),
        ("hdv.mp4", (1440, 1080), Fraction(4, 3)),  # HDV, SAR in the MP4 as well
    ],
)
def test_anamorphic_picture_is_seen_at_its_display_aspect(
    tmp_path: Path, footage: list[np.ndarray], name: str, size: tuple[int, int], sar: Fraction
) -> None:
    # A 16:9 picture stored squeezed into fewer columns; players stretch it back.  Fingerprinted
    # squeezed, PDQ (a square hash) survived but local features matched none of its anchors.
    path = encode(tmp_path / name, squeezed(footage, size), sar=sar)
    square = greys(encode(tmp_path / "square.mp4", footage))
    stretched = greys(path)
    assert stretched[0].shape == (144, 256)  # 16:9, not 720:576 (5:4) or 1440:1080 (4:3)
    assert np.median(differences(square, stretched)) < 4
    assert_matches_the_original(path)


def test_square_pixels_declared_square_are_left_alone(
    tmp_path: Path, footage: list[np.ndarray]
) -> None:
    # A 1:1 sample aspect ratio, as many encoders write, changes nothing.
    plain = greys(encode(tmp_path / "plain.mp4", footage))
    declared = greys(encode(tmp_path / "declared.mp4", footage, sar=Fraction(1)))
    assert all(np.array_equal(a, b) for a, b in zip(plain, declared, strict=True))


def write_with_inset(path: Path, footage: list[np.ndarray]) -> Path:
    """An MKV whose first video stream is a 160x96 inset of its own, the footage second."""
    with av.open(str(path), "w") as container:
        inset = container.add_stream("libx264", rate=30)
        inset.width, inset.height, inset.pix_fmt = 160, 96, "yuv420p"
        main = container.add_stream("libx264", rate=30)
        main.width, main.height, main.pix_fmt = 640, 360, "yuv420p"
        for i, pixels in enumerate(footage):
            sign = np.full((96, 160, 3), 40, np.uint8)
            sign[30:60, i % 120 : i % 120 + 40] = 230  # a moving block: not a flat picture
            for stream, picture in ((inset, sign), (main, pixels)):
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(picture), format="rgb24")
                container.mux(stream.encode(frame))
        for stream in (inset, main):
            container.mux(stream.encode())
    return path


def test_the_main_of_several_video_streams_is_fingerprinted(
    tmp_path: Path, footage: list[np.ndarray]
) -> None:
    path = write_with_inset(tmp_path / "two-pictures.mkv", footage)
    header, samples = decode(path, path.name)
    assert (header.width, header.height) == (640, 360)
    assert next(samples).grey.shape == (144, 256)
    assert_matches_the_original(path)


def test_check_recognises_the_quirky_reposts(tmp_path: Path, footage: list[np.ndarray]) -> None:
    # End to end: a library holding the original, checked with a 10-bit HEVC phone video and a
    # DVB capture; both pictures' signals agree, not PDQ alone.
    db = tmp_path / "lib.db"
    added = run_cli(
        "add", DOORKNOB, "--title", "Doorknob", "--first-seen", "2015-01-01", "--source", "s",
        db=db,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    reposts = [
        encode(tmp_path / "phone.mp4", footage, "libx265", "yuv420p10le"),
        encode(tmp_path / "dvb.mkv", squeezed(footage, (720, 576)), sar=Fraction(64, 45)),
    ]
    for path in reposts:
        result = run_cli("check", "--json", path, db=db)
        report = json.loads(result.stdout)
        assert report["verdict"] == "old", (path.name, result.stderr)
        [match] = report["matches"]
        assert {"pdq", "orb"} <= set(match["signals"]), path.name


@pytest.mark.filterwarnings("error")
def test_a_one_pixel_video_is_refused_in_plain_words(
    tmp_path: Path, footage: list[np.ndarray]
) -> None:
    # A 1x1 picture holds no footage; it used to be refused after numpy warned of the mean of
    # an empty slice (the detail across a line one pixel wide) on the way.
    path = encode(tmp_path / "dot.mkv", squeezed(footage[:30], (1, 1)), pix_fmt="yuv444p")
    with pytest.raises(MediaError, match="every frame is flat"):
        fingerprint_file(path)


@pytest.mark.parametrize("suffix", ["webp", "png"])
def test_an_animated_webp_or_png_is_read_as_an_animation(
    tmp_path: Path, footage: list[np.ndarray], suffix: str
) -> None:
    # Sites serve "GIFs" as animated WebP (and APNG); FFmpeg reads neither animation, so such
    # a file was a photo of its first frame: here a channel's title card, matching nothing.
    card = Image.new("RGB", (640, 360), (20, 30, 90))
    ImageDraw.Draw(card).text((200, 160), "BREAKING: TODAY", fill=(255, 255, 255))
    pictures = [card] * 10 + [Image.fromarray(f) for f in footage[::3]]  # 10 fps
    path = tmp_path / f"repost.{suffix}"
    pictures[0].save(path, save_all=True, append_images=pictures[1:], duration=100, loop=0)
    lib = single(DOORKNOB)
    [match] = find_matches(fingerprint_file(path), lib.index, lib.load)
    assert match.score >= 0.8
    assert abs(match.query_start - 1.0 - match.ref_start) < 0.5  # after the 1 s title card


def write_576i(path: Path, frames: list[np.ndarray], fields: bool) -> Path:
    """A DVB-style capture (``path`` ends in .ts: MPEG-TS) of 720x576 ``frames`` at a 16:9
    display aspect, H.264 at 15 fps.

    With ``fields`` each frame weaves two moments of the footage (its even lines one frame of
    the 30 fps original, its odd lines the next), coded interlaced, top field first, as a
    576i broadcast is; else each frame is the first of the two, progressive.
    """
    woven = []
    for first, second in zip(frames[::2], frames[1::2], strict=False):
        frame = first.copy()
        if fields:
            frame[1::2] = second[1::2]
        woven.append(frame)
    return encode(
        path, woven, sar=Fraction(64, 45), rate=15, x264_params="tff=1" if fields else None
    )


def test_an_interlaced_tv_capture_scores_as_the_progressive_one(
    tmp_path: Path, footage: list[np.ndarray]
) -> None:
    # A TV capture's frames weave two fields a field-time apart: read as one picture, anything
    # moving is combed, and the capture scored below a progressive copy of the same footage.
    # The fields must be woven at full height, so the footage is stretched to 576 lines first.
    # (Before: samples up to 2.4 grey levels off the progressive copy's, score 0.86 against
    # 0.94; with the fields separated: 0.4, and 0.90.)
    tall = squeezed(footage, (720, 576))
    lib = single(DOORKNOB)
    paths, scores = {}, {}
    for fields in (False, True):
        paths[fields] = write_576i(tmp_path / f"capture-{fields}.ts", tall, fields)
        [match] = find_matches(fingerprint_file(paths[fields]), lib.index, lib.load)
        assert abs(match.ref_start - match.query_start) < 0.5  # at the same time
        scores[fields] = match.score
    assert max(differences(greys(paths[False]), greys(paths[True]))) < 1.0
    assert scores[True] >= scores[False] - 0.06, scores


def test_a_phone_photo_carrying_a_gain_map_is_read_as_a_photo(tmp_path: Path) -> None:
    # Phones save HDR photos as a JPEG with a second picture (MPO: a gain map or depth map).
    # Pillow calls such a file animated; read as a one-frame video, a turned repost of a
    # stored photo lost its PDQ match (photos are hashed in their eight rotations).
    turned = Image.open(BRIDGE).convert("RGB").rotate(90, expand=True)
    gain_map = turned.resize((turned.width // 4, turned.height // 4)).convert("L")
    path = tmp_path / "PXL_20240101_ultra_hdr.jpg"
    turned.save(path, format="MPO", save_all=True, append_images=[gain_map.convert("RGB")])
    assert Image.open(path).format == "MPO"
    fp = fingerprint_file(path)
    assert fp.kind == "photo"
    lib = single(BRIDGE)
    [match] = find_matches(fp, lib.index, lib.load)
    assert "pdq" in match.signals


def _box(kind: bytes, *parts: bytes, version: int | None = None, flags: int = 0) -> bytes:
    """An ISO BMFF box (a full box when ``version`` is given)."""
    full = b"" if version is None else struct.pack(">I", version << 24 | flags)
    body = full + b"".join(parts)
    return struct.pack(">I", 8 + len(body)) + kind + body


@dataclass
class HeifItem:
    kind: bytes  # b"hvc1": an HEVC picture; b"grid": tiles (the items its ``dimg`` names)
    data: bytes
    props: list[bytes]  # boxes: hvcC, ispe, irot
    hidden: bool = False  # a tile, not shown on its own


def hevc_item(rgb: np.ndarray, irot: int = 0, hidden: bool = False) -> HeifItem:
    """An HEVC picture item, turned on display by ``irot`` quarter turns anticlockwise.
    PyAV's FFmpeg has no HEIF muxer: the picture is encoded into an MP4, and its bitstream
    and ``hvcC`` are moved into the item."""
    height, width = rgb.shape[:2]
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as out:
        stream = out.add_stream("libx265", rate=1)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        # One thread, no B-frames: else x265's delay at times gave the muxer a DTS past the
        # PTS ("pts/dts pair unsupported"), and the file would depend on thread timing.
        stream.options = {
            "x265-params": "log-level=error:qp=22:pools=none:frame-threads=1:bframes=0"
        }
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        frame.pts = 0
        out.mux(stream.encode(frame))
        out.mux(stream.encode())
    buffer.seek(0)
    with av.open(buffer) as mp4:
        hvcc = mp4.streams.video[0].codec_context.extradata
        picture = b"".join(bytes(packet) for packet in mp4.demux() if packet.size)
    props = [_box(b"hvcC", hvcc), _box(b"ispe", struct.pack(">II", width, height), version=0)]
    props += [_box(b"irot", bytes([irot % 4]))] if irot else []
    return HeifItem(b"hvc1", picture, props, hidden)


def write_heif(path: Path, items: list[HeifItem], primary: int = 1, refs: bytes = b"") -> Path:
    """A HEIF file as phones write it: pictures stored as items (ids from 1), not a track;
    ``refs``: the boxes of its ``iref`` (a grid's ``dimg``, a thumbnail's ``thmb``)."""
    props = [prop for item in items for prop in item.props]
    links, first = b"", 1
    for number, item in enumerate(items, 1):
        indices = bytes(0x80 | i for i in range(first, first + len(item.props)))
        links += struct.pack(">HB", number, len(item.props)) + indices
        first += len(item.props)
    infos = [
        _box(b"infe", struct.pack(">HH", n, 0), item.kind, b"\0", version=2, flags=item.hidden)
        for n, item in enumerate(items, 1)
    ]
    ftyp = _box(b"ftyp", b"heic", bytes(4), b"mif1heic")

    def meta(offset: int) -> bytes:
        extents = b""
        for number, item in enumerate(items, 1):
            extents += struct.pack(">HHHII", number, 0, 1, offset, len(item.data))
            offset += len(item.data)
        return _box(
            b"meta",
            _box(b"hdlr", bytes(4), b"pict", bytes(13), version=0),
            _box(b"pitm", struct.pack(">H", primary), version=0),
            _box(b"iinf", struct.pack(">H", len(items)), *infos, version=0),
            *([_box(b"iref", refs, version=0)] if refs else []),
            _box(b"iloc", b"\x44\0", struct.pack(">H", len(items)), extents, version=0),
            _box(
                b"iprp",
                _box(b"ipco", *props),
                _box(b"ipma", struct.pack(">I", len(items)), links, version=0),
            ),
            version=0,
        )

    head = len(ftyp) + len(meta(0)) + 8  # the pictures' offset: past ftyp, meta, mdat's header
    data = b"".join(item.data for item in items)
    path.write_bytes(ftyp + meta(head) + _box(b"mdat", data))
    return path


def write_heic(path: Path, rgb: np.ndarray, irot: int = 0) -> Path:
    """A HEIC of one picture (as pillow-heif writes them; phones write tiles)."""
    return write_heif(path, [hevc_item(rgb, irot)])


def turned_bridge() -> np.ndarray:
    """The shared bridge photo turned a quarter, as a repost from a phone held sideways."""
    return np.asarray(Image.open(BRIDGE).convert("RGB").rotate(90, expand=True))


def test_a_turned_avif_repost_of_a_photo_matches_it_by_pdq(tmp_path: Path) -> None:
    # Sites and phones save photos as AVIF; read as a one-frame video, a turned repost lost
    # the PDQ match a photo gets by being hashed in its eight rotations and flips.
    path = tmp_path / "bridge.avif"
    Image.fromarray(turned_bridge()).save(path, quality=80, speed=8)
    fp = fingerprint_file(path)
    assert fp.kind == "photo"
    lib = single(BRIDGE)
    [match] = find_matches(fp, lib.index, lib.load)
    assert "pdq" in match.signals


def test_a_turned_heic_repost_of_a_photo_matches_it_by_pdq(tmp_path: Path) -> None:
    # Pillow reads no HEIF: FFmpeg does, as a one-frame video, and a turned repost of a
    # stored photo matched by local features only.
    fp = fingerprint_file(write_heic(tmp_path / "IMG_0001.HEIC", turned_bridge()))
    assert fp.kind == "photo"
    lib = single(BRIDGE)
    [match] = find_matches(fp, lib.index, lib.load)
    assert "pdq" in match.signals


def test_a_heic_is_shown_upright_as_its_rotation_says(tmp_path: Path) -> None:
    # Phones store the sensor's pixels and an ``irot`` turn rather than turning the pixels.
    upright = np.asarray(Image.open(BRIDGE).convert("L"), np.float64)
    sideways = np.ascontiguousarray(np.rot90(turned_bridge(), k=2))  # needs a quarter turn back
    header, samples = decode(write_heic(tmp_path / "IMG_0002.HEIC", sideways, irot=1), "h")
    [sample] = list(samples)
    assert header.kind == "photo" and sample.large is not None
    assert (header.width, header.height) == (upright.shape[1], upright.shape[0])
    shown = Image.fromarray(sample.large).resize(upright.shape[::-1], Image.Resampling.BOX)
    assert np.abs(np.asarray(shown, np.float64) - upright).mean() < 4


def write_tiled_heic(path: Path, rgb: np.ndarray, thumbnail: bool, depth: bool = False) -> Path:
    """A HEIC as iPhones write it: the picture in 512x512 tiles put together by a grid item,
    (``thumbnail``) a small picture of the whole and (``depth``) a portrait's depth map, an
    auxiliary picture larger than the thumbnail."""
    height, width = rgb.shape[:2]
    rows, cols = -(-height // 512), -(-width // 512)
    padded = np.zeros((rows * 512, cols * 512, 3), np.uint8)
    padded[:height, :width] = rgb
    tiles = [
        hevc_item(padded[r * 512 : (r + 1) * 512, c * 512 : (c + 1) * 512], hidden=True)
        for r in range(rows)
        for c in range(cols)
    ]
    grid = HeifItem(
        b"grid",
        struct.pack(">BBBBHH", 0, 0, rows - 1, cols - 1, width, height),
        [_box(b"ispe", struct.pack(">II", width, height), version=0)],
    )
    ids = range(1, len(tiles) + 1)
    number = len(tiles) + 1
    refs = _box(
        b"dimg", struct.pack(">HH", number, len(tiles)), *(struct.pack(">H", i) for i in ids)
    )
    items = [*tiles, grid]
    if thumbnail:
        small = np.asarray(Image.fromarray(rgb).resize((320, 200), Image.Resampling.BOX))
        items.append(hevc_item(small))
        refs += _box(b"thmb", struct.pack(">HHH", number + 1, 1, number))
    if depth:
        outline = np.zeros((480, 640, 3), np.uint8)
        outline[120:400, 200:440] = 200  # the subject, near; the rest far
        items.append(hevc_item(outline))
        refs += _box(b"auxl", struct.pack(">HHH", len(items), 1, number))
    return write_heif(path, items, primary=number, refs=refs)


def test_a_tiled_heic_is_read_from_its_thumbnail_of_the_whole_picture(tmp_path: Path) -> None:
    # FFmpeg reads each tile of an iPhone's HEIC as a picture and leaves putting them
    # together to its caller (PyAV cannot see how): one 512x512 tile was fingerprinted.
    bridge = np.asarray(Image.open(BRIDGE).convert("RGB"))
    fp = fingerprint_file(write_tiled_heic(tmp_path / "IMG_0003.HEIC", bridge, thumbnail=True))
    assert fp.kind == "photo"
    lib = single(BRIDGE)
    [match] = find_matches(fp, lib.index, lib.load)
    assert "pdq" in match.signals
    bare = write_tiled_heic(tmp_path / "IMG_0004.HEIC", bridge, thumbnail=False)
    with pytest.raises(MediaError, match="tiles"):
        fingerprint_file(bare)
    # A portrait's depth map beside the thumbnail is marked no differently by FFmpeg, and is
    # larger: it must not be fingerprinted as the photo.
    portrait = write_tiled_heic(tmp_path / "IMG_0005.HEIC", bridge, thumbnail=True, depth=True)
    with pytest.raises(MediaError, match="tiles"):
        fingerprint_file(portrait)


def test_an_animated_avif_is_read_as_a_video(tmp_path: Path, footage: list[np.ndarray]) -> None:
    # Pillow reads AVIF sequences too, but as a photo reader: no declared length to refuse a
    # too-long file by, every frame decoded on every core.  FFmpeg reads them as the video
    # they are.
    pictures = [Image.fromarray(f) for f in footage[::3]]  # 10 fps, 4 s
    path = tmp_path / "repost.avif"
    pictures[0].save(path, save_all=True, append_images=pictures[1:], duration=100, quality=60)
    header, _ = decode(path, path.name)
    assert header.kind == "video" and abs(header.duration - SECONDS) < 0.5
    lib = single(DOORKNOB)
    [match] = find_matches(fingerprint_file(path), lib.index, lib.load)
    assert match.score >= 0.8
