"""Checking a bundle's clip line field by field: the file is a stranger's, so nothing is trusted."""

from __future__ import annotations

import binascii
import json
import math
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from fingerprint.types import HASH_BYTES

from ..library import SOURCE_KINDS, _check_first_seen
from ..signals import signals_from_json
from ..urls import UnsafeURLError, is_web_url, reference
from .spec import KNOWN_VARIANTS, TIMES, utf8

_KNOWN_VARIANT_BYTES = bytes(range(KNOWN_VARIANTS + 1))
_MAX_INT = 2**63 - 1  # SQLite's INTEGER
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")


@dataclass(frozen=True)
class ClipLine:
    """One validated clip line, ready to store."""

    sha256: str
    kind: str
    duration: float | None
    width: int | None
    height: int | None
    size: int | None
    frames: int
    hashes: bytes
    times: bytes
    variants: bytes
    title: str
    description: str | None
    first_seen: str
    source: str
    verdict_url: str | None
    language: str | None
    tags: list[str]
    claim: str | None
    rating: str | None
    benign: bool
    sources: list[tuple[str, str, str, str | None]]  # (url, first_seen, kind, title)
    unsafe_links: int = 0  # links of the line left out: not web links
    signals: tuple[tuple[str, int, bytes], ...] = ()  # (name, version, data): storage.signals


class Problem(Exception):
    """What is wrong with one line; the reader adds the file, the line and the advice."""

    def __init__(self, message: str, advice: str | None = None):
        super().__init__(message)
        self.advice = advice


def parse_clip(obj: dict[str, Any]) -> ClipLine:
    """Validate one clip line; raise Problem saying which field is wrong and how."""
    sha = obj.get("sha256")
    if not isinstance(sha, str) or not _HEX64.fullmatch(sha):
        raise Problem(f"sha256 must be 64 hex digits, got {_brief(sha)}")
    kind = obj.get("kind")
    if kind not in ("video", "photo"):
        raise Problem(f'kind must be "video" or "photo", got {_brief(kind)}')
    duration = obj.get("duration")
    if duration is not None and not (
        isinstance(duration, (int, float))
        and not isinstance(duration, bool)
        and math.isfinite(duration)
        and duration >= 0
    ):
        raise Problem(f"duration must be a number of seconds >= 0 or null, got {_brief(duration)}")
    measures = [_count(obj, key) for key in ("width", "height", "size")]

    fp = obj.get("fingerprint")
    if not isinstance(fp, dict):
        raise Problem("fingerprint must be an object with frames, hashes, times and variants")
    frames = fp.get("frames")
    if not is_int(frames) or frames < 0:
        raise Problem(f"fingerprint.frames must be a whole number >= 0, got {_brief(frames)}")
    hashes = _bytes(fp, "hashes", frames * HASH_BYTES, f"{frames} frames x {HASH_BYTES}")
    times = _bytes(fp, "times", frames * 4, f"{frames} frames x 4")
    variants = _bytes(fp, "variants", frames, f"{frames} frames x 1")
    t = np.frombuffer(times, dtype=TIMES)
    if frames and not (t.min() >= 0 and t.max() < np.inf):  # NaN fails both
        raise Problem("fingerprint.times holds a time that is not a finite number >= 0")
    if unknown := variants.translate(None, _KNOWN_VARIANT_BYTES):
        raise Problem(f"fingerprint.variants holds an unknown variant code {unknown[0]}")

    try:
        signals = tuple(signals_from_json(obj.get("signals")))
    except ValueError as exc:
        raise Problem(str(exc)) from None
    if not frames and not signals:  # a flat picture is matched by its other signals only
        raise Problem("fingerprint.frames is 0 and there are no signals: nothing to match by")

    clip = obj.get("clip")
    if not isinstance(clip, dict):
        raise Problem("clip must be an object with title, first_seen and source")
    title = _text(clip, "clip.title", required=True)
    first_seen = _date(clip.get("first_seen"), "clip.first_seen")
    source = _text(clip, "clip.source", required=True)
    optional = {
        key: _text(clip, f"clip.{key}")
        for key in ("description", "verdict_url", "language", "claim", "rating")
    }
    tags = clip.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise Problem("clip.tags must be a list of strings")
    benign = clip.get("benign", False)
    if not isinstance(benign, bool):
        raise Problem(f"clip.benign must be true or false, got {_brief(benign)}")

    # A link that is not a web link (javascript:, file:) is left out, not stored: it would
    # be shown to the public as a link.  The rest of the line, and of the bundle, is fine.
    unsafe = 0
    if optional["verdict_url"] is not None and not is_web_url(optional["verdict_url"]):
        optional["verdict_url"], unsafe = None, unsafe + 1
    sources = obj.get("sources", [])
    if not isinstance(sources, list):
        raise Problem("sources must be a list")
    found = []
    for number, item in enumerate(sources, start=1):
        where = f"sources[{number}]"
        if not isinstance(item, dict):
            raise Problem(f"{where} must be an object with url, first_seen and kind")
        kind_of = item.get("kind", "publication")
        if kind_of not in SOURCE_KINDS:
            raise Problem(f"{where}.kind must be one of {', '.join(SOURCE_KINDS)}")
        url = _text(item, f"{where}.url", key="url", required=True)
        if not _is_reference(url):
            unsafe += 1
            continue
        found.append(
            (
                url,
                _date(item.get("first_seen"), f"{where}.first_seen"),
                kind_of,
                _text(item, f"{where}.title", key="title"),
            )
        )
    if not _is_reference(source):
        if not found:
            raise Problem(
                f"clip.source {_brief(source)} is not a web link and no other source is given"
            )
        unsafe += 1
        source, first_seen = min(found, key=lambda s: s[1])[:2]
    width, height, size = measures
    return ClipLine(
        sha256=sha.lower(),
        kind=kind,
        duration=None if duration is None else float(duration),
        width=width,
        height=height,
        size=size,
        frames=frames,
        hashes=hashes,
        times=times,
        variants=variants,
        title=title,
        first_seen=first_seen,
        source=source,
        tags=list(tags),
        benign=benign,
        sources=found,
        unsafe_links=unsafe,
        signals=signals,
        **optional,
    )


def no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def json_type(value: object) -> str:
    names = {list: "a list", str: "a string", bool: "true/false", type(None): "null"}
    return names.get(type(value), "a number")


def _brief(value: object) -> str:
    text = json.dumps(value, ensure_ascii=True) if value is not None else "null"
    return text if len(text) <= 40 else text[:37] + "..."


def short(exc: Exception) -> str:
    text = str(exc)
    return text if len(text) <= 80 else text[:77] + "..."


def check_strings(value: object) -> None:
    """Refuse a line whose strings UTF-8 cannot store (a lone surrogate from "\\ud800")."""
    if isinstance(value, str):
        if not utf8(value):
            raise Problem("a string holds an invalid \\u escape (a lone surrogate)")
    elif isinstance(value, dict):
        for key, item in value.items():
            check_strings(key)
            check_strings(item)
    elif isinstance(value, list):
        for item in value:
            check_strings(item)


def _count(obj: dict[str, Any], key: str) -> int | None:
    value = obj.get(key)
    if value is not None and not (is_int(value) and 0 <= value <= _MAX_INT):
        raise Problem(f"{key} must be a whole number >= 0 or null, got {_brief(value)}")
    return value


def _bytes(fp: dict[str, Any], key: str, expected: int, layout: str) -> bytes:
    value = fp.get(key)
    if not isinstance(value, str):
        raise Problem(f"fingerprint.{key} must be a base64 string")
    try:
        data = binascii.a2b_base64(value, strict_mode=True)
    except (binascii.Error, ValueError):
        raise Problem(f"fingerprint.{key} is not valid base64") from None
    if len(data) != expected:
        raise Problem(f"fingerprint.{key} is {len(data)} bytes, expected {expected} ({layout})")
    return data


def _text(
    obj: dict[str, Any], name: str, *, key: str | None = None, required: bool = False
) -> str | None:
    value = obj.get(key or name.rsplit(".", 1)[-1])
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value.strip()):
        wanted = "a non-empty string" if required else "a string or null"
        raise Problem(f"{name} must be {wanted}, got {_brief(value)}")
    return value


def _is_reference(value: str) -> bool:
    try:
        reference(value, "source")
    except UnsafeURLError:
        return False
    return True


def _date(value: object, name: str) -> str:
    try:
        _check_first_seen(value)  # type: ignore[arg-type]
    except ValueError:
        raise Problem(f"{name} {_brief(value)} is not a real date written YYYY-MM-DD") from None
    return value  # type: ignore[return-value]


def is_datetime(text: str) -> bool:
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return True
