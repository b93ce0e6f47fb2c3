"""Words for students, in Korean or English: gettext catalogs under grader/locale/.

Messages are written in English and marked with ``_`` (translated now) or ``N_`` (marked for
the catalog, translated where they are shown). ``pybabel extract`` finds both.
"""

from __future__ import annotations

import gettext
import os
from collections.abc import Mapping
from pathlib import Path

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "trimlab"
LANGUAGES = ("en", "ko")

_translation: gettext.NullTranslations = gettext.NullTranslations()
_language = "en"


def language_from_environment(environ: Mapping[str, str] = os.environ) -> str:
    """ko when the locale (LC_ALL, LC_MESSAGES, LANG, in POSIX order) is Korean; else en."""
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = environ.get(name, "")
        if value:
            return "ko" if value.lower().startswith("ko") else "en"
    return "en"


def use(language: str) -> None:
    """Speak this language from now on, in every report of this process."""
    global _translation, _language
    if language not in LANGUAGES:
        raise ValueError(f"no language {language!r}; choose from {', '.join(LANGUAGES)}")
    _language = language
    _translation = (
        gettext.NullTranslations()
        if language == "en"
        else gettext.translation(DOMAIN, LOCALE_DIR, [language])
    )


def current() -> str:
    return _language


def _(message: str) -> str:
    return _translation.gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return _translation.ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Mark a message for the catalog; it is translated with ``_`` where it is shown."""
    return message
