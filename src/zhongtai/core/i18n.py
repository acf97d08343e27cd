"""Interface strings, Chinese first with English switchable (cookie ``lang``, ``?lang=en``, or for the API the
``Accept-Language`` header).

The strings live in gettext catalogs kept with Babel: ``src/zhongtai/locale/<lang>/LC_MESSAGES/messages.po``.
``make i18n`` extracts every ``_()`` / ``N_()`` of the code and templates (``babel.cfg``) into
``messages.pot`` and merges it into both catalogs; installing compiles them to ``.mo``. A catalog edited
since its ``.mo`` was compiled is compiled in memory when first used, so a translator sees the change on the
next start without a build step.

Message ids are stable symbolic keys (``nav.catalog``), not English sentences: Chinese is the first language
and English a translation like it, and rewording either must not orphan the other. Placeholders are
gettext's ``%(name)s``.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from functools import cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

LANGUAGES = ("zh", "en")
DEFAULT_LANGUAGE = "zh"
# Babel's locale for each interface language: number and date formats, relative times.
BABEL_LOCALES = {"zh": "zh_Hans_CN", "en": "en_US"}
LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
DOMAIN = "messages"
# Error messages are English templates made with ``M_()`` (``core.errors``); only Chinese needs a catalog.
ERRORS_DOMAIN = "errors"


def N_(key: str) -> str:
    """Marks ``key`` for extraction where the lookup happens later (enum labels, error messages)."""
    return key


def catalog_path(lang: str, suffix: str = ".po", domain: str = DOMAIN) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{domain}{suffix}"


@cache
def translations(lang: str, domain: str = DOMAIN) -> NullTranslations:
    """The compiled catalog of ``lang``; compiled in memory when the ``.mo`` is missing or older. A
    language without a catalog in ``domain`` (English errors: the templates are English) says the ids."""
    po, mo = catalog_path(lang, domain=domain), catalog_path(lang, ".mo", domain)
    if not po.exists():
        return NullTranslations()
    if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
        with mo.open("rb") as compiled:
            return Translations(compiled, domain=domain)
    with po.open("rb") as source:
        catalog = read_po(source, locale=BABEL_LOCALES[lang])
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer, domain=domain)


def error_text(lang: str, message: str) -> str:
    """An error message in ``lang``: a ``Message`` through the errors catalog with its values; other text
    (a library's own message) as it is, unless it is itself a template the catalog knows."""
    template = getattr(message, "template", message)
    values = getattr(message, "values", None)
    text = translations(lang if lang in LANGUAGES else DEFAULT_LANGUAGE, ERRORS_DOMAIN).gettext(template)
    return text % values if values else text


def gettext(lang: str, key: str, values: Mapping[str, object] | None = None) -> str:
    """``key`` in ``lang`` with its ``%(name)s`` placeholders filled; an unknown key shows as itself."""
    text = translations(lang if lang in LANGUAGES else DEFAULT_LANGUAGE).gettext(key)
    return text % values if values else text


def pick_language(query_value: str | None, cookie_value: str | None, accept: str | None = None) -> str:
    """``?lang=`` first, then the cookie, then the first supported language ``Accept-Language`` names."""
    for value in (query_value, cookie_value):
        if value in LANGUAGES:
            return value
    return accepted_language(accept)


def accepted_language(header: str | None) -> str:
    """The supported language ``Accept-Language`` prefers (quality order); Chinese when it names none."""
    if not header:
        return DEFAULT_LANGUAGE
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGUAGES and quality > 0:
            ranked.append((-quality, position, primary))
    return min(ranked)[2] if ranked else DEFAULT_LANGUAGE
