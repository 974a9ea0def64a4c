"""The config file as a newsroom writes it: the example shows the defaults, and every mistake in
a file is reported at once, each with its line, in words that say what to write instead."""

from __future__ import annotations

import re
import tomllib
from dataclasses import fields
from pathlib import Path

import pytest

from bot.settings import BotSettings
from fingerprint import Limits, MatchSettings
from oldclip.config import Config, ConfigError, NetworkSettings, WatchSettings, load_config

EXAMPLE = Path(__file__).resolve().parents[1] / "config.example.toml"
SECTIONS = {
    "matching": MatchSettings,
    "limits": Limits,
    "watch": WatchSettings,
    "network": NetworkSettings,
    "bot": BotSettings,
}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_example_sets_every_key_to_its_default() -> None:
    """Copying the example, as the README says, must not change how oldclip behaves."""
    data = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    for section, cls in SECTIONS.items():
        defaults = cls()
        for key, value in data.get(section, {}).items():
            default = getattr(defaults, key)
            expected = list(default) if isinstance(default, tuple) else default
            assert value == expected, f"{section}.{key} is {value!r} in the example, {default!r}"


def test_the_example_documents_every_key() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    for section, cls in SECTIONS.items():
        for f in fields(cls):
            assert re.search(rf"^#? ?{f.name} =", text, re.M), f"{section}.{f.name} undocumented"


def test_the_example_loads_and_equals_the_defaults() -> None:
    config = load_config(EXAMPLE, "/tmp/x.db")
    assert config.limits == Limits()
    assert config.matching == MatchSettings()
    assert config.watch == WatchSettings()


def test_every_problem_is_reported_at_once_with_its_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "[matching]\n"
        "min_score = 25\n"  # line 2: a percentage where a share is meant
        "\n"
        "[limits]\n"
        "sample_fps = 0\n"  # line 5: would divide by zero
        "[watch]\n"
        'down_after = "five"\n'  # line 7
        "colour = 1\n",  # line 8
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert f"{path} has 4 problems" in message
    assert f"{path}:2: matching.min_score must be from 0 to 1, not 25" in message
    assert f"{path}:5: limits.sample_fps must be from 0.1 to 60, not 0" in message
    assert f"{path}:7: watch.down_after must be a whole number, not 'five'" in message
    assert f"{path}:8: unknown key watch.colour" in message
    assert "a int" not in message


def test_one_problem_is_one_line(tmp_path: Path) -> None:
    path = write(tmp_path, "[limits]\n\nsample_fps = -1\n")
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(path))}:3: limits.sample_fps"):
        load_config(path)


def test_durations_are_accepted_wherever_a_duration_is(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[watch]\npoll_interval_s = "10m"\nsighting_min_age_h = "2d"\ndownload_timeout_s = "3m"\n'
        '[limits]\nmax_duration = "2h"\n[bot]\nalert_interval_s = "1.5s"\n'
        '[[feeds]]\nkind = "rss"\ntarget = "https://example.org/feed"\nevery = "1h"\n',
    )
    config = load_config(path)
    assert config.watch.poll_interval_s == 600
    assert config.watch.sighting_min_age_h == 48.0
    assert config.watch.download_timeout_s == 180.0
    assert config.limits.max_duration == 7200.0
    assert config.bot.alert_interval_s == 1.5
    assert config.feeds[0].every_s == 3600


def test_a_duration_without_a_unit_is_refused_not_guessed(tmp_path: Path) -> None:
    path = write(tmp_path, '[[feeds]]\nkind = "rss"\ntarget = "https://e.org/f"\nevery = "10"\n')
    with pytest.raises(ConfigError, match=r":4: feed 1: every: '10' has no unit: write 10s"):
        load_config(path)


def test_two_databases_in_one_folder_keep_their_media_apart(tmp_path: Path) -> None:
    a = load_config(None, tmp_path / "a.db")
    b = load_config(None, tmp_path / "b.db")
    assert a.media_dir == tmp_path / "a-media"
    assert b.media_dir == tmp_path / "b-media"
    assert (
        Config(database=tmp_path / "a.db").media_dir != Config(database=tmp_path / "b.db").media_dir
    )
