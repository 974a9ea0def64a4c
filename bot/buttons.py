"""Every inline-button press goes through here: the callback data is parsed strictly once.

Callback data comes from clients, not from the bot: it may be forged, come from a button of an
older version, carry an id past SQLite's range, or be missing altogether (a game button).  PTB's
pattern handlers let a press without data through to the first of them, so a single handler
parses the data and either hands the press on or answers it with a short notice; every press
is answered, so no client is left with a spinning button.
"""

from __future__ import annotations

from telegram import Update
from telegram.ext import ContextTypes

from .factcheck import feedback
from .i18n import t
from .inputs import parse_button
from .public import language_chosen, language_of


async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    button = parse_button(update.callback_query.data)
    if button is None:
        lang = language_of(context.bot_data["deps"], update)
        await update.callback_query.answer(t(lang, "button_unknown"))
    elif button.kind == "lang":
        await language_chosen(update, context, button)
    else:
        await feedback(update, context, button)
