"""The bot's messages in English: every key of the catalogue (bot.i18n), and the fallback for
any key another language lacks.  Conventions for the texts (HTML, placeholders): bot.i18n."""

from __future__ import annotations

from .plurals import Plural, plural

EN: dict[str, str | Plural] = {
    "start": (
        "👋 <b>oldclip</b> checks whether a video or photo is old footage passed off as new.\n"
        "\n"
        "Send me a video, photo or GIF, forward a post from a channel, or paste a link to a "
        "post. I compare it with an archive of verified old footage and tell you where and "
        "when it was first published.\n"
        "\n"
        "/help lists the commands; /language changes the language."
    ),
    "help": (
        "<b>How to use</b>\n"
        "Send or forward a video, photo or GIF, or paste a link to a post.\n"
        "\n"
        "<b>Commands</b>\n"
        "/start – what this bot does\n"
        "/help – this list\n"
        "/language – choose English or Arabic\n"
        "\n"
        "<b>For fact-checkers</b>\n"
        "/subscribe [filters] – get an alert when old footage is reposted\n"
        "/unsubscribe [filters] – stop those alerts\n"
        "/subscriptions – your alert subscriptions\n"
        "/add – reply with it to a video or photo to add it to the library as a known old clip\n"
        "/clip <i>number</i> – show a clip of the library\n"
        "/remove <i>number</i> – remove a clip from the library\n"
        "/stats – figures on the archive, reposts and feedback\n"
        "\n"
        "<b>For admins</b>\n"
        "/feeds – the watched sources and their health\n"
        "/addfeed <i>kind target [every]</i> – watch a source, e.g. /addfeed telegram channel 10m\n"
        "/removefeed <i>number</i> – stop watching a source\n"
        "/trust <i>user id</i>, /untrust <i>user id</i> – add or remove a fact-checker"
    ),
    "language_prompt": "Choose your language:",
    "language_set": "Done: I will answer in English.",
    "verdict_old": ("⚠️ <b>Old footage: this matches a clip first published on {first_seen}.</b>"),
    "verdict_sound_only": (
        "🔊 <b>Only the sound matches a clip in the archive: the picture differs.</b>\n"
        "Sound (music, a voice-over) is often laid over other footage, so this does not show "
        "that the footage is old."
    ),
    "matched_by": "Matched by: {what}.",
    "agreement_picture": "the picture",
    "agreement_picture_and_sound": "the picture and the sound",
    "agreement_sound_only": "the sound only, the picture differs",
    "clip_title": "📼 <b>{title}</b>",
    "clip_shows": "What it actually shows: {description}",
    "first_source": "First published by: {source}",
    "fact_check_link": '🔎 Fact-check: <a href="{url}">read the full verdict</a>',
    "fact_check_rated": (
        '🔎 Already fact-checked: <b>{rating}</b>. <a href="{url}">Read the debunk</a>'
    ),
    "claimed_as": "🗣 Passed off as: “{claim}”",
    "match_details": plural(
        "frames",
        one=(
            "Match: {query_start}–{query_end} of your file = {clip_start}–{clip_end} of the "
            "original ({frames} frame agrees, score {score})."
        ),
        other=(
            "Match: {query_start}–{query_end} of your file = {clip_start}–{clip_end} of the "
            "original ({frames} frames agree, score {score})."
        ),
    ),
    "match_details_photo": "Match score: {score}.",
    "mirrored_note": (
        "↔️ Your copy is mirrored (flipped left to right), a common trick to dodge automatic "
        "detection."
    ),
    "seen_before": (
        "⚠️ <b>Not new: first seen on {where} at {when}.</b>\n"
        "No fact-checker has reviewed it yet, so its origin is not confirmed."
    ),
    "forwarded_from": "You forwarded this from {channel}, posted {date}.",
    "no_match": plural(
        "count",
        one="🔍 <b>Not found in the archive of {count} clip.</b>",
        other="🔍 <b>Not found in the archive of {count} clips.</b>",
        tail=(
            " That does not prove it is new: the archive only holds footage that has already "
            "been checked or seen.\n"
            "\n"
            "To dig further, run a reverse image search on the key frames below (Google Lens, "
            "Bing Visual Search, Yandex or TinEye), compare weather, shadows, signs and uniforms "
            "with the claimed place and date, and look for the earliest upload."
        ),
    ),
    "key_frames_caption": "Key frames from your file, for a reverse image search.",
    "checking": "⏳ Checking… this takes a few seconds.",
    "too_big": (
        "This file is {size_mb} MB; bots can only download up to 20 MB. Send a link to the "
        "post instead, or a shorter clip."
    ),
    "not_media": (
        "Send me a video, photo, GIF or a link to a post, and I will check whether it is old "
        "footage."
    ),
    "too_big_unknown": (
        "This file is larger than Telegram lets bots download (20 MB). Send a link to the post "
        "instead, or a shorter clip."
    ),
    "file_unavailable": (
        "Telegram no longer has this file for me (it may have been deleted). Please send it again."
    ),
    "download_failed": "I could not download this file from Telegram. Please send it again.",
    "button_unknown": "This button no longer works.",
    "clip_usage": "Send a clip number after {command}, for example {command} 12.",
    "subscribe_bad_min": (
        "min= takes a number from 0 to 1, for example min=0.6. You have not been subscribed."
    ),
    "bad_file": "I could not read this file: {reason}",
    "link_unsupported": (
        "I cannot fetch media from this link. Send the video or photo itself, or a link to a "
        "public post."
    ),
    "link_failed": "I could not download that link: {reason}",
    "rate_limited": "You're sending a lot at once. Please wait {seconds} s and try again.",
    "identified_later": (
        "🔔 Update on the video you asked about on {asked_at}: it has now been identified as "
        "old footage: {title}, first published on {first_seen}."
    ),
    "not_allowed": (
        "This command is for fact-checkers. If you are one, ask an administrator to add your "
        "account."
    ),
    "admin_only": "Only administrators can use this command.",
    "alert_repost": (
        "🚨 <b>Old footage reposted: {title}</b> (first published {first_seen})\n"
        "Posts reusing it: {count}"
    ),
    "alert_post_line": '• <a href="{url}">{source}</a> (score {score}, {how})',
    "alert_feed_down": "⚠️ The feed {feed} is failing: {error}",
    "alert_feed_up": "✅ The feed {feed} is working again.",
    "button_confirm": "✅ Confirmed repost",
    "button_not_match": "❌ Not a match",
    "button_mute": "🔕 Mute this clip",
    "feedback_thanks": "Thank you, your feedback has been recorded.",
    "subscribed": "🔔 You will now get an alert whenever old footage is reposted.",
    "unsubscribed": "🔕 You will no longer get alerts.",
    "subscriptions_list": "<b>Your alert subscriptions</b>\n{lines}",
    "subscriptions_none": (
        "You have no alert subscriptions. Send /subscribe to start getting alerts."
    ),
    "add_usage": (
        "To add a known old clip to the library, reply to the message with the video or photo "
        "with /add."
    ),
    "add_ask_title": (
        "What is the clip's title? (for example: “Airstrike on a market, Aleppo”)\n"
        "Send /cancel to stop."
    ),
    "add_ask_date": (
        "When was it first published? Send the date as YYYY-MM-DD, for example 2017-06-20."
    ),
    "add_ask_source": (
        "Send the link to the earliest known publication (or an archive reference)."
    ),
    "add_ask_description": (
        "What does it actually show: where, when, who? One or two sentences (or send - to skip)."
    ),
    "add_ask_verdict": "Send the link to the fact-check or verdict (or send - if there is none).",
    "bad_url": (
        "“{value}” is not a link. Send a link starting with https://, or - if there is none."
    ),
    "add_done": "✅ Added to the library as clip #{clip_id}: {title}",
    "add_cancelled": "Cancelled; nothing was added.",
    "bad_date": (
        "“{value}” is not a date I understand. Please use YYYY-MM-DD, for example 2017-06-20."
    ),
    "clip_card": (
        "<b>Clip #{clip_id}: {title}</b>\n"
        "Shows: {description}\n"
        "First published: {first_seen}\n"
        "Source: {source}\n"
        "Reposts caught: {reposts}\n"
        "Added by {added_by} on {added_at}"
    ),
    "clip_not_found": "There is no clip #{clip_id} in the library.",
    "clip_removed": "🗑 Clip #{clip_id} ({title}) has been removed from the library.",
    "stats": (
        "<b>Statistics</b>\n"
        "Clips in the library: {clips}\n"
        "Sightings recorded: {sightings}\n"
        "Reposts caught: {reposts}\n"
        "Feedback: {confirmed} confirmed, {not_a_match} not a match, {muted} muted"
    ),
    "feeds_list": "<b>Watched feeds</b>\n{lines}",
    "feeds_none": "No feeds are being watched.",
    "feed_added": "✅ Now watching {feed}.",
    "feed_removed": "🗑 Stopped watching {feed}.",
    "trusted": "✅ {user} is now a trusted fact-checker.",
    "untrusted": "{user} is no longer a trusted fact-checker.",
    "feeds_off": "Feeds are not managed from this bot.",
    "addfeed_usage": (
        "Usage: /addfeed KIND TARGET [every], e.g. /addfeed telegram some_channel 10m or "
        "/addfeed rss https://example.org/feed.xml 1h"
    ),
    "feed_bad": "Could not add that feed: {reason}",
    "feed_exists": "Already watching {feed}.",
    "removefeed_usage": "Usage: /removefeed ID (the numbers shown by /feeds).",
    "feed_not_found": "There is no feed with the id {value}.",
    "trust_usage": (
        "Usage: /trust USER_ID or /untrust USER_ID, with the person's numeric Telegram user id."
    ),
    "error_generic": "Something went wrong on our side; please try again later.",
    # Labels drawn on the side-by-side picture (see bot.evidence.picture_labels).
    "label_query": "Your copy",
    "label_query_forwarded": "Your copy — forwarded {date}",
    "label_library": "Library",
    "label_library_published": "Library — first published {date}",
    "label_sighting": "Earlier copy — first seen {date}",
}
