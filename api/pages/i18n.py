"""The reader's language and time zone, and the few formats every page uses.

Language: the reader's choice (the switch on every page, kept in a cookie for a year, so it holds on the
sign-in page too), else the browser's Accept-Language, else English. Time zone: the browser's (a cookie
the page script sets from Intl), else the server's FOLLOWUP_TIMEZONE.
"""
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from babel.dates import format_timedelta
from flask import current_app, request
from flask_babel import Babel, format_datetime, get_locale, get_timezone, gettext as _

from engine import clock

LANGUAGES = {"en": "English", "zh_CN": "中文"}
LANG_COOKIE, TZ_COOKIE = "followup_lang", "followup_tz"
_ZONES = None


def select_locale() -> str:
    chosen = request.cookies.get(LANG_COOKIE)
    if chosen in LANGUAGES:
        return chosen
    best = request.accept_languages.best_match(["en", "zh", "zh-CN", "zh-Hans"])
    return "zh_CN" if best and best.lower().startswith("zh") else "en"


def select_timezone() -> str:
    global _ZONES
    chosen = request.cookies.get(TZ_COOKIE, "")
    if chosen:
        if _ZONES is None:
            _ZONES = frozenset(available_timezones())
        if chosen in _ZONES:
            return chosen
    return current_app.extensions["followup"].engine.settings.timezone


def init_app(app, translations) -> None:
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(translations)
    app.config["BABEL_DEFAULT_LOCALE"] = "en"
    Babel(app, locale_selector=select_locale, timezone_selector=select_timezone)
    app.jinja_env.add_extension("jinja2.ext.do")
    app.jinja_env.filters.update(when=when, time_left=time_left, day=day)
    app.jinja_env.globals.update(LANGUAGES=LANGUAGES, lang=language)


def language() -> str:
    """The reader's language as chosen: "zh_CN" or "en" (Babel itself names zh_CN "zh_Hans_CN")."""
    return "zh_CN" if get_locale().language == "zh" else "en"


def zone():
    try:
        return ZoneInfo(str(get_timezone()))
    except ZoneInfoNotFoundError:
        return timezone.utc


def when(value) -> str:
    """A date and time in the reader's zone and language, short: 2026-12-01 09:30 / 2026/12/1 09:30."""
    if value is None:
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return format_datetime(value, "yyyy-MM-dd HH:mm")


def day(value) -> str:
    if value is None:
        return ""
    return format_datetime(value, "yyyy-MM-dd")


def time_left(due, now=None) -> str:
    """'3 hours left' / 'overdue by 2 days' in the reader's language ('' without a due time)."""
    if due is None:
        return ""
    now = now or clock.now()
    delta = due - now
    span = format_timedelta(abs(delta) if abs(delta) >= timedelta(minutes=1) else timedelta(minutes=1),
                            threshold=1.5, locale=get_locale())
    if delta < timedelta(0):
        return _("overdue by %(span)s", span=span)
    return _("%(span)s left", span=span)


def is_overdue(due, now=None) -> bool:
    return due is not None and due < (now or clock.now())
