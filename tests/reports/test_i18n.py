"""Report translations: every text is in the Spanish catalogue, placeholders intact, parser sound."""

from __future__ import annotations

import re
from importlib import resources

import pytest

from minewatch.errors import InputError
from minewatch.reports.i18n import LANGUAGES, Translator, parse_po, source_messages


@pytest.mark.parametrize("lang", [lang for lang in LANGUAGES if lang != "en"])
def test_catalogue_translates_every_report_and_dashboard_text(lang):
    cat = Translator(lang).catalogue
    msgs = source_messages()
    assert len(msgs) > 250, "the extractor finds the report's and the dashboard's texts"
    assert {"Alert queue", "Who is downstream", "Mining disturbance report"} <= msgs, "both sources are read"
    missing = sorted(m for m in msgs if isinstance(m, str) and not cat.get(m))
    assert not missing, f"untranslated in {lang}: {missing[:5]}"
    for msgid, msgstr in cat.items():
        assert sorted(re.findall(r"%\(\w+\)s", msgid)) == sorted(re.findall(r"%\(\w+\)s", msgstr)), msgid
    stale = sorted(k for k in cat if k not in msgs)
    assert not stale, f"entries no longer used: {stale[:5]}"


def test_translator_formats_and_falls_back():
    t = Translator("es")
    assert t("Alert %(id)s", id="A0001") == "Alerta A0001"
    assert t("not a known text") == "not a known text"
    assert t.num(1234.5, 2) == "1\u2009234,50"
    assert Translator("en").num(1234.5, 1) == "1\u2009234.5"
    with pytest.raises(InputError, match="--lang 'ru' is not available"):
        Translator("ru")
    assert set(LANGUAGES) >= {"en", "es", "az"}
    az = Translator("az")
    assert az("Alert %(id)s", id="A0001") == "Xəbərdarlıq A0001"
    assert az.num(1234.5, 2) == "1\u2009234,50"


def test_parse_po_multiline_escapes_fuzzy_and_plural():
    text = '''
msgid ""
msgstr "Language: es\\n"

msgid "one line"
msgstr "una línea"

msgid ""
"two "
"lines \\"quoted\\""
msgstr "dos "
"líneas «citadas»"

#, fuzzy
msgid "unsure"
msgstr "dudoso"

msgid "empty"
msgstr ""

msgid "%(n)s alert"
msgid_plural "%(n)s alerts"
msgstr[0] "%(n)s alerta"
msgstr[1] "%(n)s alertas"
'''
    cat = parse_po(text)
    assert cat["one line"] == "una línea"
    assert cat['two lines "quoted"'] == "dos líneas «citadas»"
    assert "unsure" not in cat and "empty" not in cat and "" not in cat
    assert cat["%(n)s alert"] == ["%(n)s alerta", "%(n)s alertas"]
    with pytest.raises(ValueError, match="cannot parse"):
        parse_po('msgid "x"\nbogus line\n')


@pytest.mark.parametrize("lang", ["es", "az"])
def test_shipped_po_file_is_valid_gettext(lang):
    import shutil
    import subprocess

    ref = resources.files("minewatch").joinpath("locale", lang, "LC_MESSAGES", "minewatch.po")
    if shutil.which("msgfmt") is None:
        pytest.skip("msgfmt (gettext) not installed")
    res = subprocess.run(["msgfmt", "--check-format", "-o", "/dev/null", str(ref)], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
