"""SPEC §11: every errcode a user can meet is a named error with words of our own,
in both languages. The list below is SPEC §11's, copied from the SPEC (not derived
from wechat/errors.py), so a code the SPEC adds and the client forgets fails here."""

from __future__ import annotations

import pytest
from django.utils import translation

from wechat import errors

SPEC_11 = (
    -1,
    40001,
    40014,
    42001,
    40003,
    40053,
    40056,
    40071,
    40075,
    40078,
    40079,
    40099,
    40127,
    40141,
    40146,
    40416,
    41025,
    43008,
    45021,
    47001,
    61500,
    61501,
    61004,
    61005,
    61006,
    61011,
    61023,
    40125,
)


@pytest.mark.parametrize("errcode", SPEC_11)
def test_every_spec_errcode_is_named_and_explained_in_both_languages(errcode):
    assert errcode in {member.value for member in errors.Errcode}
    assert errcode in errors.MESSAGES
    with translation.override("en"):
        english = str(errors.MESSAGES[errcode])
    with translation.override("zh-hans"):
        chinese = str(errors.MESSAGES[errcode])
    assert english and chinese != english
    assert any("\u4e00" <= ch <= "\u9fff" for ch in chinese)


def test_every_named_errcode_has_words():
    missing = [m.name for m in errors.Errcode if m.value not in errors.MESSAGES]
    assert missing == []
