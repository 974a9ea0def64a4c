"""Who may use a privileged command: checked on every command, with the reason said."""

from __future__ import annotations

from telegram import Update
from telegram.ext import ContextTypes

from .deps import Deps
from .i18n import t
from .outgoing import reply
from .public import language_of


async def _allowed(
    update: Update, context: ContextTypes.DEFAULT_TYPE, *, admin: bool
) -> tuple[Deps, str] | None:
    deps: Deps = context.bot_data["deps"]
    lang = language_of(deps, update)
    user = update.effective_user  # None when sent on behalf of a chat: nobody to trust
    allowed = user is not None and (
        deps.is_admin(user.id) if admin else deps.is_fact_checker(user.id)
    )
    if not allowed:
        await reply(
            deps.courier,
            update.effective_message,
            t(lang, "admin_only" if admin else "not_allowed"),
        )
        return None
    return deps, lang


async def fact_checker(
    update: Update, context: ContextTypes.DEFAULT_TYPE
) -> tuple[Deps, str] | None:
    """(deps, language) when the user is a fact-checker (or an admin); else None, answered."""
    return await _allowed(update, context, admin=False)


async def admin(update: Update, context: ContextTypes.DEFAULT_TYPE) -> tuple[Deps, str] | None:
    """(deps, language) when the user is an admin; else None, answered."""
    return await _allowed(update, context, admin=True)
