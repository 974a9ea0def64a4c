"""The bot behind a webhook: several processes on one database, as on several hosts.

In process (the real Application, oldclip's real Checker and library) and as a real
`oldclip bot` process, against the fake Bot API, which POSTs each update to the webhook the way
Telegram does (its JSON, the secret header), round-robin over the bot processes like a load
balancer; the tests read what the bot answered at the fake.  Requests that do not come from
Telegram are POSTed straight to a bot process's port.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import bot_process as e2e
import pytest
from bot_process import ADMIN, CHAIR_TITLE, FACT_CHECKER, texts_to, wait_text
from fake_telegram import DEFAULT_TOKEN, SECRET_HEADER, FakeTelegram, Json
from media import REPO, VIDEOS

import storage
from bot.app import run_bot
from bot.deps import Deps
from bot.settings import BotSettings
from bot.webhook import MAX_BODY_BYTES
from oldclip.cli import main
from oldclip.config import ConfigError, load_config
from oldclip.library import Library
from oldclip.run import LibraryChecker
from oldclip.workers import MediaWorkers, media_workers
from storage import botshared as bot_state
from storage import outgoing

library_template = e2e.library_template

PUBLIC_URL = "https://bot.example.org/telegram"  # what setWebhook gets: the load balancer
PATTERN_RECUT = VIDEOS / "pattern-sd-with-small-logo-bar.mp4"
ASK_TITLE = "What is the clip's title?"
ADDED = "Added to the library as clip #"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def until(check: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


@dataclass
class Host:
    """One bot process serving the webhook (here a task with its own database connection)."""

    deps: Deps
    address: str  # where the load balancer forwards to it
    stop: asyncio.Event
    task: asyncio.Task[bool]


@contextlib.asynccontextmanager
async def webhook_hosts(
    tg: FakeTelegram, folder: Path, workers: MediaWorkers, count: int
) -> AsyncIterator[list[Host]]:
    """``count`` bot processes on the library in ``folder``, each on a free loopback port,
    started one after the other (each sets the webhook, as every host does on start)."""
    hosts: list[Host] = []
    libraries: list[Library] = []
    try:
        for number in range(count):
            library = Library.open(load_config(None, folder / "library.db"))
            libraries.append(library)
            port = free_port()
            settings = BotSettings(
                token=DEFAULT_TOKEN,
                api_base_url=tg.base_url,
                fact_checkers=(FACT_CHECKER,),
                admins=(ADMIN,),
                requests_per_minute=600.0,
                alert_interval_s=0.3,
                webhook_port=port,
            )
            deps = Deps(db=library.db, checker=LibraryChecker(library, workers), settings=settings)
            stop = asyncio.Event()
            task = asyncio.create_task(run_bot(deps, stop, webhook_url=PUBLIC_URL))
            hosts.append(Host(deps, f"http://127.0.0.1:{port}/telegram", stop, task))
            await until(
                lambda n=number: len([c for c in tg.calls if c.method == "setWebhook"]) > n,
                "setWebhook",
            )
        tg.route_webhook(*(host.address for host in hosts))
        yield hosts
    finally:
        for host in hosts:
            host.stop.set()
        await asyncio.wait_for(asyncio.gather(*(h.task for h in hosts)), 30)
        for library in libraries:
            library.close()


def copy_library(template: Path, folder: Path) -> None:
    for item in template.iterdir():
        if item.is_file():
            (folder / item.name).write_bytes(item.read_bytes())


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as fake:
        yield fake


@pytest.fixture
async def workers(tmp_path: Path, library_template: Path) -> AsyncIterator[MediaWorkers]:
    copy_library(library_template, tmp_path)
    async with media_workers(load_config(None, tmp_path / "library.db")) as pool:
        yield pool


def update_json(update_id: int, user_id: int, text: str) -> Json:
    """A private text message as Telegram POSTs it to a webhook."""
    user = {"id": user_id, "is_bot": False, "first_name": "M", "language_code": "en"}
    message = {
        "message_id": 9000 + update_id,
        "date": int(time.time()),
        "chat": {"id": user_id, "type": "private", "first_name": "M"},
        "from": user,
        "text": text,
    }
    if text.startswith("/"):
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text)}]
    return {"update_id": update_id, "message": message}


async def post(address: str, body: bytes, secret: str | None) -> int:
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers[SECRET_HEADER] = secret
    async with (
        aiohttp.ClientSession() as session,
        session.post(address, data=body, headers=headers) as r,
    ):
        return r.status


async def test_only_telegrams_requests_are_served_and_bad_ones_do_not_stop_the_server(
    tg: FakeTelegram, workers: MediaWorkers, tmp_path: Path
) -> None:
    async with webhook_hosts(tg, tmp_path, workers, 1) as (host,):
        info = next(c for c in tg.calls if c.method == "setWebhook").params
        secret = tg.webhook["secret_token"]
        assert info["url"] == PUBLIC_URL and len(secret) >= 32
        # Made once and kept in the database: every host on it sets the same.
        assert bot_state.shared_secret(host.deps.db, "telegram_webhook", lambda: "x") == secret

        tg.send_text(tg.user(70), "/start")  # through Telegram: the secret header is sent
        assert "oldclip" in await wait_text(tg, 70, "oldclip", timeout=30)

        forged = json.dumps(update_json(501, 71, "/start")).encode()
        assert await post(host.address, forged, None) == 403
        assert await post(host.address, forged, "not-the-secret") == 403
        assert await post(host.address, b'{"update_id": 5', secret) == 400
        assert await post(host.address, b"[1, 2]", secret) == 400
        assert await post(host.address, b'{"message": "no update id"}', secret) == 400
        huge = json.dumps(update_json(502, 73, "x" * (MAX_BODY_BYTES + 10))).encode()
        assert await post(host.address, huge, secret) == 413

        # Telegram sending the same update again (no answer in time) gets it handled once.
        again = json.dumps(update_json(503, 72, "/start")).encode()
        assert [await post(host.address, again, secret) for _ in range(2)] == [200, 200]
        await wait_text(tg, 72, "oldclip", timeout=30)
        tg.send_text(tg.user(74), "/help")  # still serving
        await wait_text(tg, 74, "How to use", timeout=30)
        await asyncio.sleep(1.0)
        assert texts_to(tg, 71) == [] and texts_to(tg, 73) == []  # refused: never processed
        assert len(texts_to(tg, 72)) == 1
    assert tg.webhook is not None  # a host stopping leaves the webhook to the others
    info = await getinfo(tg)
    assert info["url"] == PUBLIC_URL and info["pending_update_count"] == 0


async def getinfo(tg: FakeTelegram) -> Json:
    url = f"{tg.base_url}/bot{DEFAULT_TOKEN}/getWebhookInfo"
    async with aiohttp.ClientSession() as session, session.get(url) as r:
        return (await r.json())["result"]


async def test_a_dialogue_started_on_one_process_continues_on_another(
    tg: FakeTelegram, workers: MediaWorkers, tmp_path: Path
) -> None:
    """/add on one host, each answer on the next (round-robin): the clip is added once."""
    async with webhook_hosts(tg, tmp_path, workers, 2) as hosts:
        user = tg.user(FACT_CHECKER)
        video = tg.send_video(user, PATTERN_RECUT)
        await wait_text(tg, FACT_CHECKER, "Not found in the archive", timeout=60)
        first = len(tg.webhook_posts)
        tg.send_text(user, "/add", reply_to_message=video["message"])
        await wait_text(tg, FACT_CHECKER, ASK_TITLE, timeout=30)
        answers = ["Test pattern, recut", "2015-03-01", "https://example.org/pattern", "-", "-"]
        for answer in answers:
            before = len(texts_to(tg, FACT_CHECKER))
            tg.send_text(user, answer)
            await until(lambda b=before: len(texts_to(tg, FACT_CHECKER)) > b, "the next question")
        text = await wait_text(tg, FACT_CHECKER, ADDED, timeout=60)
        assert "Test pattern, recut" in text
        served = {p.target for p in tg.webhook_posts[first:]}
        assert served == {h.address for h in hosts}  # both processes took part
        titles = [c.title for c in storage.list_clips(hosts[0].deps.db)]
        assert titles.count("Test pattern, recut") == 1 and CHAIR_TITLE in titles
        assert bot_state.get_dialogue(hosts[1].deps.db, FACT_CHECKER, FACT_CHECKER) is None


async def test_a_port_in_use_is_said_in_one_line_and_the_bot_stays_off(
    tg: FakeTelegram, workers: MediaWorkers, tmp_path: Path
) -> None:
    library = Library.open(load_config(None, tmp_path / "library.db"))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        settings = BotSettings(
            token=DEFAULT_TOKEN, api_base_url=tg.base_url, webhook_port=taken.getsockname()[1]
        )
        deps = Deps(db=library.db, checker=LibraryChecker(library, workers), settings=settings)
        said: list[str] = []
        started = await run_bot(deps, asyncio.Event(), said.append, webhook_url=PUBLIC_URL)
    library.close()
    assert started is False and len(said) == 1
    assert said[0].startswith(f"cannot serve the webhook {PUBLIC_URL}: ")
    assert "address already in use" in said[0] and said[0].endswith("the bot stays off")
    assert tg.webhook is None  # Telegram was never pointed at a process that is not there


def queue_alert(db, url: str) -> int:  # type: ignore[no-untyped-def]
    clip = storage.list_clips(db)[0]
    payload = {
        "matched_media_id": clip.media_id,
        "clip_id": clip.id,
        "clip_title": CHAIR_TITLE,
        "first_seen": "2017-06-20",
        "posts": [{"post_url": url, "source": "telegram", "score": 0.9}],
    }
    return storage.add_alert(db, "repost", payload, group_key=f"post:{url}")


async def test_two_processes_on_one_database_send_each_alert_and_answer_once(
    tg: FakeTelegram, workers: MediaWorkers, tmp_path: Path
) -> None:
    async with webhook_hosts(tg, tmp_path, workers, 2) as hosts:
        db = hosts[0].deps.db
        for chat in (FACT_CHECKER, ADMIN):
            storage.subscribe(db, chat, chat)
        urls = [f"https://t.me/twice/{n}" for n in range(10, 22)]  # none inside another
        for url in urls:
            queue_alert(db, url)

        def sent(chat: int, url: str) -> int:
            return sum(
                1 for c in tg.sent(chat, "sendMessage") if url in str(c.params.get("text") or "")
            )

        await until(
            lambda: all(sent(chat, url) for chat in (FACT_CHECKER, ADMIN) for url in urls),
            "every alert in both chats",
        )
        # Telegram sending an update again, this time to the other host: handled once too.
        again = json.dumps(update_json(700, 75, "/start")).encode()
        secret = tg.webhook["secret_token"]
        assert [await post(h.address, again, secret) for h in hosts] == [200, 200]
        await wait_text(tg, 75, "oldclip", timeout=30)
        await asyncio.sleep(2.0)  # both loops had every chance to send one again
        assert {sent(chat, url) for chat in (FACT_CHECKER, ADMIN) for url in urls} == {1}
        assert storage.pending_alerts(db) == []
        assert len(texts_to(tg, 75)) == 1


def test_a_shared_sender_settles_only_claims_a_dead_process_left(tmp_path: Path) -> None:
    """A row another live process is sending must not be taken for one left by a crash (its
    answer would then be lost and its edit sent as a new message); a claim older than any
    call can last is."""
    db = storage.open_db(tmp_path / "library.db")
    live = outgoing.queue(db, 5, "sendMessage", {"text": "now"})
    dead = outgoing.queue(db, 6, "sendMessage", {"text": "then"})
    now = datetime.now(UTC)
    assert outgoing.claim(db, live, now=now)
    assert outgoing.claim(db, dead, now=now - timedelta(minutes=10))
    stuck = bot_state.recover_stale_sends(db, claimed_before=now - timedelta(minutes=2))
    assert [row.id for row in stuck] == [dead]
    assert outgoing.get(db, dead).state == "unknown"
    assert outgoing.get(db, live).state == "sending"
    assert outgoing.sent(db, live, 77)  # its process records the answer as usual


def test_dialogue_steps_and_updates_are_taken_once_across_connections(tmp_path: Path) -> None:
    first, second = (storage.open_db(tmp_path / "library.db") for _ in range(2))
    bot_state.start_dialogue(first, -100, 7, "add", {"answers": {}})
    assert bot_state.advance_dialogue(first, -100, 7, 0, {"answers": {"title": "a"}})
    assert not bot_state.advance_dialogue(second, -100, 7, 0, {"answers": {"title": "b"}})
    assert bot_state.get_dialogue(second, -100, 7).data == {"answers": {"title": "a"}}
    assert not bot_state.end_dialogue(second, -100, 7, step=0)
    assert bot_state.end_dialogue(second, -100, 7, step=1)
    assert bot_state.get_dialogue(first, -100, 7) is None

    assert bot_state.claim_update(first, 41) and not bot_state.claim_update(second, 41)
    later = datetime.now(UTC) + timedelta(seconds=5)
    assert bot_state.claim_update(second, 42, forget_before=later)  # 41 forgotten meanwhile
    assert bot_state.claim_update(first, 41)


def test_the_webhook_secret_comes_from_the_environment_and_is_never_repeated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[bot]\nwebhook_secret = "from-the-config-file"\nwebhook_port = 8443\n')
    monkeypatch.setenv("OLDCLIP_WEBHOOK_SECRET", "from_the_environment-1")
    settings = load_config(config).bot
    assert settings.webhook_secret == "from_the_environment-1" and settings.webhook_port == 8443
    assert "from_the_environment" not in repr(settings)
    monkeypatch.setenv("OLDCLIP_WEBHOOK_SECRET", "has spaces+slashes/")
    with pytest.raises(ConfigError) as refused:
        load_config(config)
    assert "OLDCLIP_WEBHOOK_SECRET must be 16 to 256" in str(refused.value)
    assert "spaces" not in str(refused.value)
    monkeypatch.delenv("OLDCLIP_WEBHOOK_SECRET")
    config.write_text(
        '[bot]\nwebhook_port = 70000\nwebhook_path = "telegram"\nwebhook_secret = "short"\n'
    )
    with pytest.raises(ConfigError) as refused:
        load_config(config)
    assert "bot.webhook_secret must be 16 to 256" in str(refused.value)
    assert "bot.webhook_port must be from 1 to 65535" in str(refused.value)
    assert "bot.webhook_path must be a URL path" in str(refused.value)


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["bot", "--webhook", "http://bot.example.org/t"], "must be an https:// URL"),
        (["bot", "--webhook", "https://bot.example.org:8080/t"], "ports 443, 80, 88 and 8443"),
        (["bot"], "the bot has no token"),
    ],
)
def test_oldclip_bot_refuses_what_cannot_work_in_one_line(
    argv: list[str],
    said: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("OLDCLIP_BOT_TOKEN", raising=False)
    monkeypatch.delenv("OLDCLIP_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)  # no config.toml here
    assert main(["--db", str(tmp_path / "library.db"), *argv]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("oldclip: error: ") and said in err[0]


async def start_oldclip_bot(
    tg: FakeTelegram, folder: Path, args: list[str], extra: str = "", env: dict | None = None
) -> tuple[asyncio.subprocess.Process, Path]:
    config = e2e.write_config(folder, tg.base_url, extra)
    log = folder / "oldclip.log"
    environ = {**os.environ, "OLDCLIP_BOT_TOKEN": DEFAULT_TOKEN, "PYTHONPATH": str(REPO)}
    with log.open("ab") as stderr:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "oldclip", "--config", str(config), "bot", *args,
            cwd=folder, env={**environ, **(env or {})},
            stdout=asyncio.subprocess.DEVNULL, stderr=stderr,
        )  # fmt: skip
    return process, log


async def stop_process(process: asyncio.subprocess.Process, log: Path) -> tuple[int, str]:
    process.send_signal(signal.SIGTERM)
    await asyncio.wait_for(process.wait(), 30)
    return process.returncode, log.read_text(errors="replace")


async def test_oldclip_bot_serves_a_webhook_then_polls_again(
    tg: FakeTelegram, tmp_path: Path, library_template: Path
) -> None:
    """The real process: `--webhook URL` with the secret from the environment, answered
    through the webhook; plain `oldclip bot` afterwards polls (deleting the webhook)."""
    copy_library(library_template, tmp_path)
    port, secret = free_port(), "s3cret_from-the-environment_0123456789"
    extra = f"webhook_port = {port}\n"
    process, log = await start_oldclip_bot(
        tg, tmp_path, ["--webhook", PUBLIC_URL], extra, {"OLDCLIP_WEBHOOK_SECRET": secret}
    )
    try:
        await tg.wait_for("setWebhook", timeout=90)
        assert tg.webhook == {"url": PUBLIC_URL, "secret_token": secret, "max_connections": 40}
        tg.route_webhook(f"http://127.0.0.1:{port}/telegram")
        tg.send_text(tg.user(80), "/start")
        await wait_text(tg, 80, "oldclip", timeout=60)
        assert not any(c.method == "getUpdates" for c in tg.calls)
    finally:
        code, text = await stop_process(process, log)
    assert code == 0 and "Traceback" not in text
    for hidden in (DEFAULT_TOKEN.split(":")[1], secret):
        assert hidden not in text

    process, log = await start_oldclip_bot(tg, tmp_path, [])
    try:
        await tg.wait_for("getUpdates", timeout=90)
        assert tg.webhook is None  # polling took the bot back
        tg.send_text(tg.user(81), "/start")
        await wait_text(tg, 81, "oldclip", timeout=60)
    finally:
        code, text = await stop_process(process, log)
    assert code == 0 and "Traceback" not in text


async def api(tg: FakeTelegram, method: str, **params: object) -> Json:
    url = f"{tg.base_url}/bot{DEFAULT_TOKEN}/{method}"
    async with aiohttp.ClientSession() as session, session.post(url, json=params) as r:
        return await r.json()


async def test_the_fake_answers_webhook_calls_as_the_bot_api_does(tg: FakeTelegram) -> None:
    """What the webhook tests rely on: Telegram's refusals, getUpdates locked out, failed
    deliveries kept and reported by getWebhookInfo, polling possible again after deleteWebhook."""
    refused = await api(tg, "setWebhook", url="http://bot.example.org/t")
    assert refused["description"].endswith("An HTTPS URL must be provided for webhook")
    refused = await api(tg, "setWebhook", url="https://bot.example.org:8080/t")
    assert "only on ports 80, 88, 443 or 8443" in refused["description"]
    refused = await api(tg, "setWebhook", url=PUBLIC_URL, secret_token="a b")
    assert refused["description"] == "Bad Request: secret token contains unallowed characters"
    assert (await api(tg, "setWebhook", url=PUBLIC_URL))["description"] == "Webhook was set"
    assert (await api(tg, "setWebhook", url=PUBLIC_URL))["description"] == "Webhook is already set"
    assert (await api(tg, "getUpdates"))["error_code"] == 409

    tg.route_webhook(f"http://127.0.0.1:{free_port()}/telegram")  # nobody listens there
    tg.send_text(tg.user(90), "/start")
    await until(lambda: len(tg.webhook_posts) >= 2, "two delivery attempts")
    info = (await api(tg, "getWebhookInfo"))["result"]
    assert info["url"] == PUBLIC_URL and info["pending_update_count"] == 1
    assert info["last_error_message"] and info["last_error_date"] > 0

    assert (await api(tg, "deleteWebhook"))["description"] == "Webhook was deleted"
    assert (await api(tg, "deleteWebhook"))["description"] == "Webhook is already deleted"
    updates = (await api(tg, "getUpdates"))["result"]
    assert [u["message"]["text"] for u in updates] == ["/start"]  # kept, now polled
