"""Normalised keys for duplicate detection at intake (DESIGN §3): names written many ways by many
windows must still meet. Kana: NFKC (half-width → full-width), hiragana → katakana, small kana and
voicing variants folded (ヴ→ブ, ヂ→ジ, ヅ→ズ, ヰ→イ, ヱ→エ, ヲ→オ), long-vowel marks and spaces dropped.
Kanji: NFKC plus a table of variant forms common in Japanese names (髙/高, 﨑/崎, 邊/邉/辺 …)."""

from __future__ import annotations

import re
import unicodedata

_HIRA_TO_KATA = {code: code + 0x60 for code in range(ord("ぁ"), ord("ゖ") + 1)}

_KANA_FOLD = str.maketrans(
    {
        "ヴ": "ブ",
        "ヂ": "ジ",
        "ヅ": "ズ",
        "ヰ": "イ",
        "ヱ": "エ",
        "ヲ": "オ",
        "ァ": "ア",
        "ィ": "イ",
        "ゥ": "ウ",
        "ェ": "エ",
        "ォ": "オ",
        "ッ": "ツ",
        "ャ": "ヤ",
        "ュ": "ユ",
        "ョ": "ヨ",
        "ヮ": "ワ",
        "ヵ": "カ",
        "ヶ": "ケ",
    }
)

# Variant → standard form, for characters that appear in names (異体字).
_KANJI_VARIANTS = {
    "髙": "高",
    "﨑": "崎",
    "嵜": "崎",
    "碕": "崎",
    "邊": "辺",
    "邉": "辺",
    "籘": "藤",
    "濵": "浜",
    "濱": "浜",
    "澤": "沢",
    "齋": "斉",
    "齊": "斉",
    "斎": "斉",
    "廣": "広",
    "國": "国",
    "櫻": "桜",
    "藏": "蔵",
    "冨": "富",
    "德": "徳",
    "眞": "真",
    "惠": "恵",
    "榮": "栄",
    "實": "実",
    "壽": "寿",
    "龍": "竜",
    "瀨": "瀬",
    "槗": "橋",
    "𠮷": "吉",
    "曾": "曽",
    "淺": "浅",
    "嶋": "島",
    "嶌": "島",
    "圓": "円",
    "條": "条",
    "驛": "駅",
    "與": "与",
    "莊": "荘",
    "黑": "黒",
    "萬": "万",
    "禮": "礼",
    "彌": "弥",
    "靜": "静",
    "顯": "顕",
    "縣": "県",
    "傳": "伝",
    "團": "団",
    "學": "学",
    "會": "会",
    "來": "来",
}
_KANJI_FOLD = str.maketrans(_KANJI_VARIANTS)

# ヴ with a small vowel is written with バ行 too (ヴィラ = ビラ), so fold the pair first.
_VU_PAIRS = {"ヴァ": "バ", "ヴィ": "ビ", "ヴェ": "ベ", "ヴォ": "ボ", "ヴュ": "ビュ"}

_SPACES = re.compile(r"[\s\u3000・･.\-ー－‐]+")
_DIGITS = re.compile(r"\D+")


def kana_key(*parts: str) -> str:
    text = unicodedata.normalize("NFKC", "".join(p or "" for p in parts))
    text = text.translate(_HIRA_TO_KATA)
    text = _SPACES.sub("", text)
    for pair, plain in _VU_PAIRS.items():
        text = text.replace(pair, plain)
    return text.translate(_KANA_FOLD)


def name_key(*parts: str) -> str:
    text = unicodedata.normalize("NFKC", "".join(p or "" for p in parts))
    text = _SPACES.sub("", text)
    return text.translate(_KANJI_FOLD)


def phone_key(phone: str) -> str:
    return _DIGITS.sub("", unicodedata.normalize("NFKC", phone or ""))


def to_katakana(text: str) -> str:
    """Stored フリガナ: full-width katakana (hiragana and half-width input accepted)."""
    text = unicodedata.normalize("NFKC", text or "").strip()
    return text.translate(_HIRA_TO_KATA)
