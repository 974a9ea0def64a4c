"""Naming the database: a file or a PostgreSQL URL, by the config, $OLDCLIP_DB or --db."""

from __future__ import annotations

from pathlib import Path

import pytest

from oldclip.cli import main
from oldclip.config import ConfigError, load_config


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OLDCLIP_DB", raising=False)
    monkeypatch.delenv("OLDCLIP_CONFIG", raising=False)


def test_the_older_library_key_still_names_a_file(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, '[library]\ndatabase = "~/lib/old.db"\n'))
    assert config.database == Path("~/lib/old.db").expanduser()
    assert config.media_dir == Path("~/lib/old-media").expanduser()


def test_a_sqlite_url_is_the_file_it_names(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, f'[database]\nurl = "sqlite:///{tmp_path}/a.db"\n'))
    assert config.database == tmp_path / "a.db"


def test_a_postgresql_url_is_kept_and_shown_without_its_password(tmp_path: Path) -> None:
    url = "postgresql://oldclip:s3cret@db.example:6543/newsroom"
    config = load_config(write(tmp_path, f'[database]\nurl = "{url}"\n'))
    assert config.database == url
    assert config.database_label == "postgresql://oldclip:***@db.example:6543/newsroom"
    # Files kept beside the database (media, index) go to the data folder, one per server.
    name = config.local_path.name
    assert name.startswith("db.example-6543-newsroom-") and name.endswith(".db")
    assert config.media_dir.name == f"{config.local_path.stem}-media"
    assert "s3cret" not in str(config.local_path)


def test_two_libraries_on_one_server_never_share_files(tmp_path: Path) -> None:
    def local(url: str) -> Path:
        return load_config(write(tmp_path, f'[database]\nurl = "{url}"\n')).local_path

    base = "postgresql://oldclip:pw@db.example/newsroom"
    other_schema = f"{base}?options=-csearch_path%3Dnewsroom_b"
    assert local(other_schema) != local(base)
    # The same library reached with another password keeps its files (index, media).
    assert local("postgresql://oldclip:changed@db.example/newsroom") == local(base)


def test_environment_and_flag_win_over_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, '[database]\nurl = "file.db"\n')
    monkeypatch.setenv("OLDCLIP_DB", "postgresql://env@h/x")
    assert load_config(path).database == "postgresql://env@h/x"
    assert load_config(path, "postgresql://flag@h/x").database == "postgresql://flag@h/x"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (
            '[database]\nurl = "mysql://root@h/x"\n',
            "config.toml:2: database.url: unsupported database URL scheme mysql://",
        ),
        (
            '[database]\nurl = "a.db"\n[library]\ndatabase = "b.db"\n',
            "config.toml:2: set the database once",
        ),
        ("[database]\nurl = 5\n", "database.url must be text in quotes"),
        ('[database]\npath = "a.db"\n', "unknown key database.path"),
    ],
)
def test_a_bad_database_setting_is_named_with_its_line(
    tmp_path: Path, text: str, says: str
) -> None:
    with pytest.raises(ConfigError, match=says.replace(".", r"\.")):
        load_config(write(tmp_path, text))


def test_an_unreachable_server_is_one_line_without_the_password(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path, "")
    url = "postgresql://oldclip:s3cret@127.0.0.1:1/newsroom"
    assert main(["--config", str(tmp_path / "config.toml"), "--db", url, "list"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(
        "oldclip: error: cannot connect to postgresql://oldclip:***@127.0.0.1:1/newsroom: "
    )
    assert captured.err.count("\n") == 1 and "s3cret" not in captured.err


def test_the_cli_works_on_postgresql(
    tmp_path: Path, postgres_schema: str, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path, "")
    config = str(tmp_path / "config.toml")
    assert main(["--config", config, "--db", postgres_schema, "list"]) == 0
    assert "The library is empty" in capsys.readouterr().out
    assert main(["--config", config, "--db", postgres_schema, "feeds", "list"]) == 0
