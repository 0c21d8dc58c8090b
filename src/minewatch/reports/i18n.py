"""Translation of report text through gettext ``.po`` catalogues.

Catalogues live in ``minewatch/locale/<lang>/LC_MESSAGES/minewatch.po`` (the
standard gettext layout, so ``msgfmt`` and translation tools work on them).
They are parsed at run time, so there is no compiled ``.mo`` file to keep in
step with its source. English is the source language (msgid = English text).

In templates and code, text goes through ``_("...")`` (with ``%(name)s``
placeholders filled by keyword arguments) and ``ngettext(singular, plural, n)``.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

from minewatch.errors import InputError

#: Languages shipped, with their own name.
LANGUAGES = {"en": "English", "es": "Español", "az": "Azərbaycanca"}
DOMAIN = "minewatch"


def _unquote(text: str, where: str) -> str:
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        raise ValueError(f"{where}: bad string {text!r}") from None
    if not isinstance(value, str):
        raise ValueError(f"{where}: bad string {text!r}")
    return value


def parse_po(text: str, where: str = "po") -> dict[str, str | list[str]]:
    """Parse a ``.po`` file into ``{msgid: msgstr}`` (plural entries: ``{msgid: [msgstr[0], ...]}``).

    Fuzzy entries and entries with an empty translation are left out (they fall back to English).
    """
    entries: dict[str, str | list[str]] = {}
    cur: dict = {}
    key: str | None = None
    fuzzy = False

    def flush() -> None:
        nonlocal cur, fuzzy
        if "msgid" in cur and cur["msgid"] and not fuzzy:
            if "plural" in cur:
                forms = [cur.get(f"msgstr[{i}]", "") for i in range(len([k for k in cur if k.startswith("msgstr[")]))]
                if forms and all(forms):
                    entries[cur["msgid"]] = forms
            elif cur.get("msgstr"):
                entries[cur["msgid"]] = cur["msgstr"]
        cur = {}
        fuzzy = False

    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        loc = f"{where}:{lineno}"
        if not line:
            flush()
            key = None
            continue
        if line.startswith("#,") and "fuzzy" in line:
            fuzzy = True
            continue
        if line.startswith("#"):
            continue
        m = re.match(r"^(msgid_plural|msgid|msgstr\[\d+\]|msgstr|msgctxt)\s+(\".*\")$", line)
        if m:
            key = m.group(1)
            if key == "msgid" and "msgid" in cur and ("msgstr" in cur or any(k.startswith("msgstr[") for k in cur)):
                flush()
            if key == "msgid_plural":
                key = "plural"
            cur[key] = _unquote(m.group(2), loc)
        elif line.startswith('"') and key is not None:
            cur[key] += _unquote(line, loc)
        else:
            raise ValueError(f"{loc}: cannot parse {raw!r}")
    flush()
    return entries


@lru_cache(maxsize=None)
def _catalogue(lang: str) -> dict:
    if lang == "en":
        return {}
    ref = resources.files("minewatch").joinpath("locale", lang, "LC_MESSAGES", f"{DOMAIN}.po")
    return parse_po(ref.read_text(encoding="utf-8"), where=str(ref))


def check_lang(lang: str) -> str:
    """Return ``lang`` if shipped, else raise :class:`InputError` naming the choices."""
    if lang not in LANGUAGES:
        raise InputError(f"--lang {lang!r} is not available",
                         hint="choose one of " + ", ".join(f"{k} ({v})" for k, v in LANGUAGES.items()))
    return lang


@dataclass
class Translator:
    """Translate English source text into ``lang`` (falls back to English for missing entries)."""

    lang: str = "en"
    catalogue: dict = field(init=False, repr=False)

    def __post_init__(self) -> None:
        check_lang(self.lang)
        self.catalogue = _catalogue(self.lang)

    def gettext(self, message: str) -> str:
        value = self.catalogue.get(message)
        return value if isinstance(value, str) else message

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        forms = self.catalogue.get(singular)
        index = 0 if n == 1 else 1  # English, Spanish, Azerbaijani: two forms, n != 1 is plural
        if isinstance(forms, list) and len(forms) > index:
            return forms[index]
        return singular if n == 1 else plural

    def __call__(self, message: str, **values) -> str:
        text = self.gettext(message)
        return text % values if values else text

    # -- locale-aware formatting ---------------------------------------------------------------
    @property
    def decimal_comma(self) -> bool:
        return self.lang in ("es", "az")

    def num(self, value: float | None, digits: int = 2) -> str:
        """A number with ``digits`` decimals, using the language's decimal mark."""
        if value is None:
            return "—"
        text = f"{value:,.{digits}f}"
        if self.decimal_comma:
            text = text.replace(",", "\u2009").replace(".", ",")
        else:
            text = text.replace(",", "\u2009")
        return text


def extract_messages(text: str) -> set[str | tuple[str, str]]:
    """Message ids used in a template or Python source: ``_("...")`` and ``ngettext("...", "...", n)``."""
    found: set = set()
    string = r'"((?:[^"\\]|\\.)*)"'
    for m in re.finditer(r'(?<![\w.])[_t]\(\s*' + string, text):
        found.add(_unquote(f'"{m.group(1)}"', "source"))
    for m in re.finditer(r'ngettext\(\s*' + string + r'\s*,\s*' + string, text):
        found.add((_unquote(f'"{m.group(1)}"', "source"), _unquote(f'"{m.group(2)}"', "source")))
    return found


def source_messages() -> set:
    """Every message id in the report and dashboard templates, the dashboard's scripts
    (``t("...")``) and the modules that produce report text: one catalogue for both."""
    root = resources.files("minewatch")
    texts = []
    for sub, suffix in (("reports/templates", ".j2"), ("web/templates", ".j2"), ("web/static", ".js")):
        folder = root.joinpath(sub)
        if not folder.is_dir():
            continue
        for entry in folder.iterdir():
            if entry.name.endswith(suffix):
                texts.append(entry.read_text(encoding="utf-8"))
    for mod in ("reports/html.py", "reports/figures.py", "reports/text.py", "evidence/alerts.py",
                "evidence/sheets.py", "evidence/writer.py"):
        ref = root.joinpath(mod)
        if ref.is_file():
            texts.append(ref.read_text(encoding="utf-8"))
    found: set = set()
    for text in texts:
        found |= extract_messages(text)
    return found


def write_pot(path) -> int:
    """Write a gettext template of every message id (for translators); return their number."""
    def q(s: str) -> str:
        return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'

    lines = ['msgid ""', 'msgstr ""', '"Content-Type: text/plain; charset=UTF-8\\n"', ""]
    msgs = sorted(source_messages(), key=lambda m: m if isinstance(m, str) else m[0])
    for m in msgs:
        if isinstance(m, tuple):
            lines += [f"msgid {q(m[0])}", f"msgid_plural {q(m[1])}", 'msgstr[0] ""', 'msgstr[1] ""', ""]
        else:
            lines += [f"msgid {q(m)}", 'msgstr ""', ""]
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines))
    return len(msgs)
