"""Golden BERT WordPiece tokenizer outputs from Hugging Face, for testing the Swift tokenizer.

Writes
  Fixtures/tokenizer/corpus.txt   one text per line (UTF-8, lines separated by U+000A only, the file
                                  ends with one U+000A); no line holds U+000A or U+000D, every other
                                  character (controls, U+0085, U+000B, U+000C, ...) is written as is
  Fixtures/tokenizer/golden.json  input_ids for every corpus line under four configurations, texts
                                  that cannot live in a line-based file, sentence pairs, truncation,
                                  and the character classes Hugging Face's tokenizer actually uses

Deterministic: a fixed random seed, no timestamps, no set iteration; running it again gives the same
bytes for the same package versions. Run with the project's venv:

    .venv/bin/python Fixtures/generators/make_tokenizer_goldens.py
"""

import os

# One thread in the Rust tokenizer (another process may be using the cores) and no fork warnings.
os.environ.setdefault("RAYON_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import hashlib
import json
import platform
import random
import subprocess
import sys
import unicodedata
from pathlib import Path

import tokenizers
import transformers
from tokenizers import Tokenizer, normalizers, pre_tokenizers
from tokenizers.implementations import BertWordPieceTokenizer
from transformers import AutoTokenizer, BertTokenizer
from transformers.models.bert.tokenization_bert_legacy import BertTokenizerLegacy

transformers.logging.set_verbosity_error()

ROOT = Path(__file__).resolve().parents[2]  # this file is Fixtures/generators/NAME.py
MINILM = ROOT / "models" / "all-MiniLM-L6-v2"
BERT_TINY = ROOT / "Fixtures" / "bert-tiny"
OUT_DIR = ROOT / "Fixtures" / "tokenizer"
CORPUS = OUT_DIR / "corpus.txt"
GOLDEN = OUT_DIR / "golden.json"
SEED = 20260611
MAX_LEN = 512
UNK_ID = 100


# --------------------------------------------------------------------------------------------
# Corpus
# --------------------------------------------------------------------------------------------

def nfd(s):
    return unicodedata.normalize("NFD", s)


def nfc(s):
    return unicodedata.normalize("NFC", s)


FIRST_NAMES = ["Alice", "Bob", "Carmen", "Dmitri", "Emma", "Farid", "Grace", "Hiro", "Ines", "Jamal",
               "Kate", "Liam", "Maya", "Noah", "Olivia", "Pedro", "Quinn", "Rosa", "Sam", "Tara",
               "Uma", "Victor", "Wendy", "Xavier", "Yusuf", "Zoe", "McDonald", "O'Brien", "DeShawn",
               "van der Berg"]
SUBJECTS = ["the quick brown fox", "my neighbour's cat", "a group of researchers", "the committee",
            "our new intern", "the old lighthouse keeper", "every student in the class", "the robot",
            "a tired programmer", "the city council", "her younger brother", "the orchestra",
            "an anonymous donor", "the weather service", "this algorithm", "the small startup",
            "a flock of geese", "the museum's curator", "nobody", "the search engine",
            "the pharmacist", "two astronauts", "the local bakery", "a mysterious stranger"]
VERBS = ["jumps over", "carefully examined", "will probably ignore", "has already rewritten",
         "quietly repaired", "refused to sign", "accidentally deleted", "is still debugging",
         "painted", "translated", "celebrated", "rejected", "measured", "downloaded",
         "borrowed", "recommended", "photographed", "reorganized", "couldn't find",
         "didn't understand", "won't forget", "has been tokenizing", "misplaced", "optimized"]
OBJECTS = ["the lazy dog", "an unbelievably long report", "the quarterly budget", "a broken umbrella",
           "the source code", "three ancient manuscripts", "the museum's collection",
           "a cup of coffee", "the neural network", "the unaffable landlord", "an old photograph",
           "the encyclopedia", "the football", "a tokenization bug", "the train schedule",
           "his grandmother's recipe", "a state-of-the-art compiler", "the well-known theorem",
           "twenty-five documents", "the thermostat", "a self-driving car", "the bicycle",
           "the unpublished manuscript", "an ultra-wideband antenna"]
ADVERBIALS = ["yesterday", "in the morning", "before lunch", "without any warning",
              "during the storm", "for the third time", "at midnight", "on Tuesday",
              "after a long discussion", "in Paris", "under the bridge", "as usual",
              "last week", "despite the rain", "with great enthusiasm", "in 2019",
              "at 5:30 p.m.", "by mistake", "on purpose", "almost immediately"]
ADJECTIVES = ["remarkable", "ridiculous", "tiny", "enormous", "bright", "unexpected", "boring",
              "fantastic", "complicated", "straightforward", "unhappy", "colourful", "famous",
              "incomprehensible", "delightful", "hyperparameterized", "unbelievable"]
NOUNS = ["apple", "battery", "camera", "dinosaur", "elephant", "festival", "guitar", "hospital",
         "island", "jacket", "keyboard", "library", "mountain", "notebook", "orange", "pyramid",
         "question", "rainbow", "sandwich", "telescope", "umbrella", "volcano", "window",
         "xylophone", "yacht", "zeppelin", "tokenizer", "embedding", "transformer", "gradient"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December"]
ENDINGS = [".", ".", ".", "!", "?", "...", "?!", ";", ""]


def cap(s):
    return s[:1].upper() + s[1:]


def english_lines(rng, count):
    templates = [
        lambda: f"{cap(rng.choice(SUBJECTS))} {rng.choice(VERBS)} {rng.choice(OBJECTS)} {rng.choice(ADVERBIALS)}{rng.choice(ENDINGS)}",
        lambda: f"{cap(rng.choice(ADVERBIALS))}, {rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)}{rng.choice(ENDINGS)}",
        lambda: f"\"{cap(rng.choice(OBJECTS))} is {rng.choice(ADJECTIVES)},\" said {rng.choice(FIRST_NAMES)}.",
        lambda: f"{rng.choice(FIRST_NAMES)}'s {rng.choice(NOUNS)} isn't {rng.choice(ADJECTIVES)} -- it's {rng.choice(ADJECTIVES)}!",
        lambda: f"Did {rng.choice(SUBJECTS)} really see the {rng.choice(NOUNS)} {rng.choice(ADVERBIALS)}?",
        lambda: f"{rng.choice(FIRST_NAMES)} bought {rng.randint(2, 999)} {rng.choice(NOUNS)}s for ${rng.randint(1, 9999)}.{rng.randint(0, 99):02d} on {rng.choice(MONTHS)} {rng.randint(1, 31)}, {rng.randint(1900, 2030)}.",
        lambda: f"{cap(rng.choice(NOUNS))}, {rng.choice(NOUNS)}, and {rng.choice(NOUNS)} (in that order) were {rng.choice(ADJECTIVES)}.",
        lambda: f"{rng.choice(SUBJECTS).upper()} {rng.choice(VERBS).upper()} {rng.choice(OBJECTS).upper()}!",
        lambda: " ".join(w.capitalize() for w in f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)}".split()),
        lambda: f"i think {rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)}, don't you?",
        lambda: f"According to Dr. {rng.choice(FIRST_NAMES)} (U.S.A.), the {rng.choice(NOUNS)} was {rng.choice(ADJECTIVES)}, e.g. {rng.choice(OBJECTS)}.",
        lambda: f"{cap(rng.choice(SUBJECTS))} {rng.choice(VERBS)} {rng.choice(OBJECTS)}; {rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)} {rng.choice(ADVERBIALS)}.",
        lambda: f"'{cap(rng.choice(NOUNS))}' and '{rng.choice(NOUNS)}' rhyme? No, they don't.",
        lambda: f"{cap(rng.choice(ADJECTIVES))}{rng.choice(['', 'ly', 'ness', 'est', 'er'])} {rng.choice(NOUNS)}{rng.choice(['s', 'es', 'ing', 'ed', ''])} {rng.choice(['re', 'un', 'pre', 'anti', 'over'])}{rng.choice(NOUNS)}",
    ]
    lines = []
    seen = set()
    while len(lines) < count:
        line = rng.choice(templates)()
        if line not in seen:
            seen.add(line)
            lines.append(line)
    return lines


ACCENTED = [
    # French
    "L'été à Noël, où êtes-vous ? Ça va très bien, merci !",
    "Le cœur a ses raisons que la raison ne connaît point.",
    "Déjà vu : une naïve résumé de la façade du château.",
    "Les élèves français étudient l'œuvre de Molière à l'école.",
    "Où est la bibliothèque ? À gauche, après l'hôpital.",
    "Crème brûlée, pâté, señor, jalapeño et aïoli.",
    # German
    "Größe, Äpfel, Übermut und Öl: die Straße ist schön.",
    "Der Fußgänger überquert die Kreuzung bei Grün.",
    "Zwölf Boxkämpfer jagen Viktor quer über den großen Sylter Deich.",
    "STRASSE, GROẞE, Maß und Maße.",
    "Müller, Schröder und Bäcker trafen sich in München.",
    # Spanish / Portuguese / Catalan
    "¿Dónde está el niño? ¡Qué mañana más bonita!",
    "El pingüino Wenceslao hizo kilómetros bajo exhaustiva lluvia y frío.",
    "Não há ação sem coração; São Paulo é incrível.",
    "A Catalunya diem: bon dia, què tal? L·l geminada: col·lecció.",
    # Vietnamese
    "Tiếng Việt có dấu: Người ta thường nói rằng học tập là chìa khóa của thành công.",
    "Hà Nội, Thành phố Hồ Chí Minh, Đà Nẵng và Huế.",
    "Tôi yêu tiếng nước tôi từ khi mới ra đời, người ơi.",
    "Chúc mừng năm mới! Phở bò rất ngon.",
    # Polish / Czech / Slovak / Hungarian / Romanian
    "Zażółć gęślą jaźń. Łódź, Kraków i Wrocław.",
    "Pchnąć w tę łódź jeża lub ośm skrzyń fig.",
    "Příliš žluťoučký kůň úpěl ďábelské ódy.",
    "Ďateľ ťukal do kôry; Kŕdeľ šťastných ďatľov učí pri ústí Váhu mĺkveho koňa.",
    "Árvíztűrő tükörfúrógép, őszi ülés.",
    "Șapte țânțari și ştiinţă (virgulă vs. sedilă).",
    # Turkish / Azerbaijani
    "İstanbul'da ılık bir gün; IĞDIR ve ŞİŞLİ.",
    "Pijamalı hasta yağız şoföre çabucak güvendi.",
    # Nordic / Icelandic / Baltic
    "Þórður og Guðrún fóru á Þingvelli.",
    "Æblegrød og rødgrød med fløde på Ærø.",
    "Åsa och Örjan äter smörgåsar i Göteborg.",
    "Lietuvių kalba: ąčęėįšųūž; latviešu: āčēģīķļņšūž.",
    # Other Latin
    "Ångström, Ørsted, Œdipus, Æsop, Ŋ, ŉ, ĳ, ǆ, ǈ.",
    "Pōhutukawa, Māori, Ōtautahi.",
    "Yorùbá: Ẹ kú àárọ̀; ọjà ńlá.",
    "Esperanto: ĉu vi ŝatas ĝin? Eĥoŝanĝo ĉiuĵaŭde.",
    "Naïve coöperation, façade, jalapeño, Zoë, Brontë.",
]


def accented_lines(rng, count):
    lines = []
    for text in ACCENTED:
        base = nfc(text)
        lines.append(base)                       # precomposed
        lines.append(nfd(base))                  # fully decomposed
        lines.append(base.upper())
        lines.append(nfd(base.lower()))
    # Word-level mixtures of NFC and NFD, random case.
    words = [w for t in ACCENTED for w in nfc(t).split()]
    seen = set(lines)
    while len(lines) < count:
        n = rng.randint(3, 9)
        out = []
        for _ in range(n):
            w = rng.choice(words)
            r = rng.random()
            if r < 0.35:
                w = nfd(w)
            elif r < 0.45:
                w = w.upper()
            elif r < 0.5:
                w = nfd(w.upper())
            out.append(w)
        line = " ".join(out)
        if line not in seen:
            seen.add(line)
            lines.append(line)
    return lines


# Marks in a non-canonical order (NFD would reorder them) and stacked marks.
ACCENT_EDGE = [
    "e\u0302\u0323",            # ê + dot below (non-canonical order: NFD puts U+0323 first)
    "e\u0323\u0302",            # canonical order
    "\u1ec7",                   # ệ precomposed
    "a\u0301\u0301\u0301 triple acute",
    "o\u0308\u0304 and \u022b", # ȫ decomposed and precomposed
    "A\u030a vs \u00c5 vs \u212b (angstrom sign)",
    "\u0130stanbul \u0131stanbul ISTANBUL istanbul",
    "Stra\u00dfe STRA\u1e9eE stra\u00dfe",
    "\u01c4 \u01c5 \u01c6 \u01c7 \u01c8 \u01c9",        # DŽ Dž dž LJ Lj lj
    "\ufb01nance \ufb02ow \ufb00 \ufb03 \ufb04",         # ligatures (no NFD decomposition)
    "\u2160\u2161\u2162 \u216b \u2170\u2171",           # roman numerals (Nl; lower-case maps)
    "\u24b6\u24b7\u24b8 \u24d0\u24d1",                   # circled letters (So; lower-case maps)
    "\u1f08\u1f00 \u1fbc \u1fb3 \u0390 \u03b0",          # Greek with breathings / iota subscript
    "\u0399\u0308\u0301 \u03ab \u03aa\u0301",
    "\u0419\u043e\u0448\u043a\u0430\u0440-\u041e\u043b\u0430 \u0439 \u0438\u0306 \u0401\u0451 \u0435\u0308",
    "\u1e9b\u0323 long s with dots",
    "\u00c7a \u00e7a C\u0327a c\u0327a",
    "\u0131\u0307 dotless i with dot above",
    "\u0069\u0307 i with dot above",
    "\u0041\u0300\u0042\u0301\u0043\u0302",
    "\u00b5 \u03bc \u039c micro mu Mu",
    "\u00aa \u00ba \u00b2 \u00b3 \u00b9 \u2070 \u2074",
    "\u00bd \u00bc \u2153 \u215e \u2189",
    "\u212a Kelvin \u2126 Ohm \u2127",
]


CHINESE = [
    "我爱自然语言处理。",
    "北京欢迎你！今天天气很好，我们去公园散步吧。",
    "人工智能正在改变世界，机器学习是其中的关键技术。",
    "这是一个测试句子，用来检查分词器的行为。",
    "他说：“你好，世界！”然后就走了。",
    "中华人民共和国成立于1949年10月1日。",
    "学而时习之，不亦说乎？有朋自远方来，不亦乐乎？",
    "繁體中文與簡體中文並存：臺灣、香港、澳門。",
    "我的电话号码是１３８００１３８０００。",
    "深度学习（Deep Learning）模型需要大量数据。",
]
JAPANESE = [
    "東京は日本の首都です。",
    "私はコーヒーが好きです。",
    "ひらがな、カタカナ、そして漢字を使います。",
    "今日はいい天気ですね！散歩に行きましょう。",
    "がぎぐげご ぱぴぷぺぽ ガギグゲゴ パピプペポ",
    "ｶﾀｶﾅ ﾊﾝｶｸ ｶﾞｷﾞｸﾞ ﾊﾟﾋﾟﾌﾟ",
    "「こんにちは」と彼女は言った。『吾輩は猫である』",
    "ラーメン・寿司・天ぷら〜美味しい！",
    "々 〆 ヶ ゝゞ ヽヾ ー",
    "㈱ ㍿ ㌔ ㌢ ① ② ⑩ ㊤",
]
KOREAN = [
    "안녕하세요, 만나서 반갑습니다.",
    "한국어는 한글로 씁니다.",
    "서울특별시 강남구 테헤란로 123",
    "저는 학생입니다. 당신은요?",
    "대한민국의 수도는 서울입니다!",
]
CJK_EDGE = [
    "\u3400\u3401\u4db5 \u4dbf (CJK Extension A)",
    "\U00020000\U00020001\U00020bb7\U0002a6d6 (Extension B)",
    "\U0002a700 \U0002b734 \U0002b73f (Extension C)",
    "\U0002b740 \U0002b81d \U0002b81f (Extension D)",
    "\U0002b820 \U0002b821 \U0002b91f (Extension E start: NOT split by tokenizers)",
    "\U0002b920 \U0002cea1 \U0002ceaf (Extension E, split)",
    "\U0002b81f\U0002b820\U0002b821\U0002b91f\U0002b920 glued across the U+2B820-U+2B91F gap",
    "a\U0002b820b a\U0002b91fb a\U0002b920b a\U0002b81fb",
    "\U0002ceb0 \U0002ebe0 (Extension F, not in the ranges)",
    "\U00030000 \U0003134a (Extension G, not in the ranges)",
    "\uf900\uf901\ufa0e\ufa2d\ufa70\ufad9 (compatibility ideographs)",
    "\U0002f800\U0002f801\U0002fa1d (compatibility supplement)",
    "\u2e80\u2e81\u2f00\u2f01\u2fd5 (radicals, not split)",
    "\u3007\u3021\u3038 \u31c0 \u3190\u3191",
    "\u9fa5\u9fcc\u9fd5\u9fea\u9fef\u9ffc\u9fff",
    "\u4e00\u4e01\u4e02 \u9fa0\u9fa1",
    "abc\u4e2d\u6587def",
    "\u4e2d\u6587abc\u65e5\u672c\u8a9e123\ud55c\uad6d\uc5b4",
    "\uff28\uff45\uff4c\uff4c\uff4f\u3000\uff37\uff4f\uff52\uff4c\uff44\uff01",
    "\uff21\uff22\uff23\uff0d\uff11\uff12\uff13\uff0b\uff1d\uff04\uff05\uff06",
    "\uff08\u5168\u89d2\uff09\uff3b\u62ec\u5f27\uff3d\uff5b\uff5d\uff1c\uff1e",
    "\u3001\u3002\u300c\u300d\u300e\u300f\u3010\u3011\u3008\u3009\u300a\u300b\u301c\u30fb",
    "\u1100\u1161\u11a8 \u1112\u1161\u11ab (conjoining jamo)",
    "\u3131\u314f \u3147\u3163 (compatibility jamo)",
    "\uac00\ud7a3 \ud7b0 \ud7fb",
]
CJK_CHARS = ("的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家"
             "学对可她里后小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所本见经"
             "头面公同三已老从动两长知民样现分将外但身些与高意进把法此实回二理美点月明其种声全工己话儿者向")
KANA = "あいうえおかきくけこさしすせそたちつてとなにぬねのはひふへほまみむめもやゆよらりるれろわをんがぎぐげござじずぜぞだぢづでどばびぶべぼぱぴぷぺぽ"
KATAKANA = "アイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワヲンガギグゲゴパピプペポー"
HANGUL_WORDS = ["사랑", "한국", "서울", "학교", "컴퓨터", "음식", "친구", "가족", "시간", "사람", "하늘", "바다"]


def cjk_lines(rng, count):
    lines = list(CHINESE) + list(JAPANESE) + list(KOREAN) + list(CJK_EDGE)
    for t in KOREAN[:3]:
        lines.append(nfd(t))               # Hangul decomposed into conjoining jamo
    seen = set(lines)
    while len(lines) < count:
        kind = rng.randrange(6)
        if kind == 0:
            line = "".join(rng.choice(CJK_CHARS) for _ in range(rng.randint(4, 20))) + rng.choice(["。", "！", "？", "，", ""])
        elif kind == 1:
            line = "".join(rng.choice(KANA + KATAKANA + CJK_CHARS) for _ in range(rng.randint(5, 18))) + "。"
        elif kind == 2:
            line = " ".join(rng.choice(HANGUL_WORDS) + rng.choice(["은", "는", "이", "가", "을", "를", "", "에서"]) for _ in range(rng.randint(2, 6))) + "."
        elif kind == 3:
            line = "".join(chr(rng.randint(0x3400, 0x4DBF)) for _ in range(rng.randint(2, 8))) + " " + "".join(chr(rng.randint(0x20000, 0x2A6DF)) for _ in range(rng.randint(2, 6)))
        elif kind == 4:
            line = f"{rng.choice(SUBJECTS)} 说 {rng.choice(CJK_CHARS)}{rng.choice(CJK_CHARS)} and {rng.choice(HANGUL_WORDS)} {rng.choice(KATAKANA)}{rng.choice(KATAKANA)}"
        else:
            line = "".join(chr(0xFF01 + rng.randrange(94)) for _ in range(rng.randint(3, 15)))
        if line not in seen:
            seen.add(line)
            lines.append(line)
    return lines


EMOJI = ["😀", "😂", "🤗", "🥰", "🫠", "💯", "🙏", "⭐", "☕", "🚀", "🎉", "🐍", "🦀", "🍕", "🌍",
         "❤️", "❤", "☺️", "✔️", "✨", "⚡", "🔥", "👍", "👍🏽", "👋🏿", "🤙🏻", "👩🏻‍💻", "👨‍👩‍👧‍👦",
         "🧑🏾‍🤝‍🧑🏼", "🏳️‍🌈", "🏴‍☠️", "🇺🇸", "🇯🇵", "🇫🇷", "🇩🇪", "🇧🇷", "🏴󠁧󠁢󠁳󠁣󠁴󠁿", "#️⃣", "1️⃣",
         "*️⃣", "©️", "®️", "™️", "☎︎", "⚠️", "↔️", "🅰️", "🆗", "🀄", "🃏", "👁️‍🗨️", "🐻‍❄️",
         "😶‍🌫️", "❤️‍🔥", "🇪🇺", "🇦", "🏻", "\u200d", "\ufe0f"]


def emoji_lines(rng, count):
    lines = [" ".join(EMOJI[i:i + 6]) for i in range(0, len(EMOJI), 6)]
    lines += [e for e in EMOJI if e not in ("\u200d", "\ufe0f")][:40]
    seen = set(lines)
    while len(lines) < count:
        kind = rng.randrange(5)
        e = rng.choice(EMOJI)
        if kind == 0:
            line = f"{cap(rng.choice(NOUNS))} {e} {rng.choice(ADJECTIVES)}"
        elif kind == 1:
            line = f"{rng.choice(NOUNS)}{e}{rng.choice(NOUNS)}"          # glued to words
        elif kind == 2:
            line = "".join(rng.choice(EMOJI) for _ in range(rng.randint(2, 8)))
        elif kind == 3:
            line = f"I love this {rng.choice(NOUNS)}!{e}{e} #{rng.choice(NOUNS)} @{rng.choice(FIRST_NAMES).lower()}"
        else:
            line = f"{e} {rng.choice(CJK_CHARS)}{rng.choice(CJK_CHARS)} {e}!"
        if line not in seen:
            seen.add(line)
            lines.append(line)
    return lines


CONTROLS = ["\x00", "\x01", "\x02", "\x07", "\x08", "\x0b", "\x0c", "\x0e", "\x1b", "\x1c", "\x1d",
            "\x1e", "\x1f", "\x7f", "\x80", "\x85", "\x9f", "\u00ad", "\u034f", "\u061c", "\u180e",
            "\u200b", "\u200c", "\u200d", "\u200e", "\u200f", "\u202a", "\u202e", "\u2060",
            "\u2066", "\u2069", "\ufeff", "\ufffd", "\ufff9", "\ue000", "\uf8ff",
            "\U000f0000", "\U0010fffd", "\U000e0001", "\U000e0041", "\U0001d173", "\u0378",
            "\ufffe", "\uffff", "\U000e0100", "\ufe0f", "\ufe0e", "\u115f", "\u3164"]


def control_lines(rng, count):
    lines = []
    for c in CONTROLS:
        lines.append(f"hel{c}lo world")                # inside a word
        lines.append(f"hello{c}world")                 # between two words, no space
        lines.append(f"hello {c} world")               # alone between spaces
        lines.append(f"{c}start and end{c}")
    lines.append("".join(CONTROLS))
    lines.append("\x00\x00\x00")
    lines.append("\ufffd\ufffd text \ufffd")
    lines.append("\ufeffBOM at the start of a line")
    lines.append("soft\u00adhyphen in\u00adside re\u00adal\u00adly long words")
    lines.append("zero\u200bwidth\u200bspace\u200bjoins\u200bwords")
    lines.append("\u202eright-to-left override\u202c and \u2067isolate\u2069")
    seen = set(lines)
    while len(lines) < count:
        words = [rng.choice(NOUNS) for _ in range(rng.randint(2, 6))]
        pos = rng.randrange(len(words))
        w = words[pos]
        k = rng.randint(0, len(w))
        words[pos] = w[:k] + rng.choice(CONTROLS) + w[k:]
        line = " ".join(words)
        if line not in seen:
            seen.add(line)
            lines.append(line)
    return lines


SPACES = ["\t", "\u00a0", "\u1680", "\u2000", "\u2001", "\u2002", "\u2003", "\u2004", "\u2005",
          "\u2006", "\u2007", "\u2008", "\u2009", "\u200a", "\u202f", "\u205f", "\u3000",
          "  ", "   ", "\t\t", " \t ", "\u180e", "\u200b"]


def whitespace_lines(rng, count):
    lines = []
    for s in SPACES:
        lines.append(f"word{s}word")
        lines.append(f"{s}leading and trailing{s}")
    lines.append("tab\tseparated\tvalues\t1\t2\t3")
    lines.append("\t\tindented with tabs")
    lines.append("    indented with spaces")
    lines.append("many          spaces          between")
    lines.append("non\u00a0breaking\u00a0space\u00a0everywhere")
    lines.append("ideographic\u3000space\u3000全角\u3000空白")
    seen = set(lines)
    while len(lines) < count:
        words = [rng.choice(NOUNS + ADJECTIVES) for _ in range(rng.randint(2, 7))]
        line = words[0]
        for w in words[1:]:
            line += rng.choice(SPACES) + w
        if line not in seen:
            seen.add(line)
            lines.append(line)
    return lines


PUNCT_BITS = ["!!!???", "...", "…", "--", "---", "—", "–", "‐", "‑", "‒", "―", "⁓", "«»", "‹›", "“”",
              "‘’", "„", "‚", "¿¡", "、。", "〃", "§", "¶", "†‡", "•", "‰", "′″", "¦", "¬", "°", "±",
              "×", "÷", "$", "€", "£", "¥", "¢", "₹", "₽", "₿", "₩", "+", "=", "<", ">", "^", "`", "|",
              "~", "@", "#", "%", "&", "*", "_", "\\", "/", "(", ")", "[", "]", "{", "}", "\"", "'",
              ":", ";", ",", "?", "!", ".", "©", "®", "™", "‿", "＿", "﹏", "⁄", "∑", "∫", "∂", "√",
              "∞", "≠", "≤", "≥", "≈", "∈", "∀", "∃", "→", "⇒", "↑", "■", "□", "▲", "★", "☆", "♠",
              "♥", "♪", "☃", "⌘", "⌥", "⏎", "⸮", "⸘", "‽", "⁇", "⁈", "⁉", "؟", "،", "।", "॥", "።",
              "፣", "჻", "᠁", "߸", "।", "꧁", "꧂", "⸗", "〜", "〰", "゠", "・", "･", "｡", "｢", "｣", "､"]


def punctuation_lines(rng, count):
    lines = [
        "Wait... what?!?!",
        "Really!!!??? No way!!!",
        "He said -- and I quote -- \"never again\".",
        "«Bonjour», dit-il. “Hello,” she replied. ‘Hi.’",
        "¿Qué? ¡Vamos!",
        "これは、ペンです。",
        "Prices: $5, €10, £7.50, ¥1000, ¢99, ₹200, ₽50, ₿0.001.",
        "Math: 1+1=2, a<b, b>c, 2^10, `code`, a|b, ~x.",
        "All ASCII punctuation: !\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~",
        "".join(chr(c) for c in range(0x21, 0x7F) if not chr(c).isalnum()),
        "x²+y²=z² ≤ ∞; ∀x∈ℝ: x≥0 ⇒ √x∈ℝ",
        "a—b–c‐d‑e‒f―g",
        "foo_bar_baz __init__ snake_case_name",
        "C'est l'été; aujourd'hui n'est pas hier.",
        "rock'n'roll, o'clock, y'all, ma'am",
        "Hello!Hello?Hello.Hello,Hello;Hello:Hello",
        "(((nested))) [[brackets]] {{{braces}}} <<<angles>>>",
        "?" * 40,
        "!" * 80,
        "." * 150,
        "-=" * 60,
        "…" * 30,
        "¿¡" * 25,
        "、。" * 30,
        "€£¥$" * 20,
        "©®™℠℗",
        "♠♣♥♦ ♪♫ ☀☁☂",
        "‽ ⁇ ⁈ ⁉ ⸮ ؟",
        "Sentence one.Sentence two!Sentence three?",
        "e.g. i.e. etc. vs. Mr. Mrs. Dr. St. Ave. U.S. U.K.",
    ]
    seen = set(lines)
    while len(lines) < count:
        kind = rng.randrange(4)
        if kind == 0:
            line = "".join(rng.choice(PUNCT_BITS) for _ in range(rng.randint(2, 12)))
        elif kind == 1:
            line = " ".join(rng.choice(NOUNS) + rng.choice(PUNCT_BITS) for _ in range(rng.randint(2, 6)))
        elif kind == 2:
            line = rng.choice(PUNCT_BITS).join(rng.choice(NOUNS) for _ in range(rng.randint(2, 5)))
        else:
            line = f"{rng.choice(PUNCT_BITS)}{rng.choice(ADJECTIVES)}{rng.choice(PUNCT_BITS)} {rng.choice(NOUNS)}{rng.choice(PUNCT_BITS)}"
        if line not in seen:
            seen.add(line)
            lines.append(line)
    return lines


def long_word_lines(rng):
    lines = []
    for n in (98, 99, 100, 101, 102, 103, 120, 200, 300):
        lines.append("a" * n)
        lines.append("x" * n + " tail")
    for n in (99, 100, 101):
        lines.append("ab" * (n // 2) + "a" * (n % 2))
        lines.append("Z" * n)                                 # cased: 100 capitals
        lines.append("1" * n)
        lines.append("é" * n)                                 # precomposed
        lines.append(nfd("é" * n))                            # 2n code points before stripping
        lines.append("漢" * n)                                # each ideograph is its own word (or not)
        lines.append("ア" * n)
        lines.append("😀" * n)
        lines.append("ß" * n)                                 # "ß" and "##ß" are in the vocabulary
        lines.append("и" * n)                                 # 2 UTF-8 bytes each, in the vocabulary
        lines.append("京" * n)                                # one word when Chinese chars are not split
        lines.append("-" * n)
    # Real words glued together: exactly 100 and 101 characters that WordPiece can split.
    base = "antidisestablishmentarianism"                   # 28 characters
    for n in (99, 100, 101):
        lines.append((base * 4)[:n])
        lines.append("un" + ("believable" * 10)[: n - 2])
        lines.append(("tokenization" * 9)[:n])
    # Lengths measured after normalization.
    lines.append("a" * 99 + "e\u0301")                      # 101 code points; 100 after strip_accents
    lines.append("a" * 98 + "e\u0301")                      # 100 code points
    lines.append("a" * 100 + "\u00ad")                      # soft hyphen removed by clean_text
    lines.append("a" * 50 + "\u00ad" + "a" * 50)            # 101 code points, 100 after cleaning
    lines.append("a" * 50 + "\u200b" + "a" * 51)            # 102 -> 101 after cleaning
    lines.append("a" * 99 + "\u0130")                       # İ: 100 code points, lower-cases to 2
    lines.append("a" * 98 + "\u0130")                       # 99, lower-cases to 100
    lines.append("A" * 99 + "\u0130")
    lines.append("a" * 99 + "ﬁ")                            # ligature stays one code point
    lines.append("a" * 99 + "\U0001F600")                   # one code point, 4 UTF-8 bytes
    lines.append("é" * 50)                                  # 50 chars, 100 UTF-8 bytes
    lines.append("é" * 51)                                  # 51 chars, 102 UTF-8 bytes
    lines.append("😀" * 26)                                 # 26 chars, 104 UTF-8 bytes
    lines.append("中" * 101 + "a")
    lines.append("a" * 100 + "!" + "b" * 100)               # punctuation splits into two 100-char words
    lines.append("a" * 101 + "!" + "b" * 101)
    lines.append("Pneumonoultramicroscopicsilicovolcanoconiosis supercalifragilisticexpialidocious")
    lines.append("Llanfairpwllgwyngyllgogerychwyrndrobwllllantysiliogogogoch")
    lines.append("".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(100)))
    lines.append("".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(101)))
    lines.append("https://example.com/" + "a" * 120)
    return lines


def number_lines(rng, count):
    lines = [
        "0 1 2 3 4 5 6 7 8 9 10 11 12 100 1000 10000 100000 1000000",
        "3.14159 2.71828 1.41421 -273.15 +42 1e10 6.022e23 1E-9",
        "1,000,000 1.000.000 1 000 000 1'000'000 1\u202f000\u202f000",
        "12:30 23:59:59 2024-02-29 29/02/2024 02/29/24 2024-02-29T12:34:56Z",
        "+1 (555) 123-4567, 555.123.4567, +44 20 7946 0958",
        "50% 0.5% 99.9% 100%",
        "1st 2nd 3rd 4th 21st 22nd 101st 1000th",
        "٠١٢٣٤٥٦٧٨٩ ۰۱۲۳۴۵۶۷۸۹ ०१२३४५६७८९ ০১২৩৪৫৬৭৮৯ ๐๑๒๓๔๕๖๗๘๙",
        "０１２３４５６７８９ １２３．４５",
        "¹²³ ⁴⁵⁶ ₁₂₃ ½ ¼ ¾ ⅓ ⅔ ⅛",
        "Ⅰ Ⅱ Ⅲ Ⅳ Ⅴ Ⅹ Ⅼ Ⅽ Ⅾ Ⅿ ⅰ ⅱ ⅲ",
        "① ② ③ ⑳ ㉑ ㊿ ❶ ❷ ⓵",
        "0x1F600 0b1010 0o777 0xDEADBEEF",
        "3.0.0-beta.1+build.5 v1.2.3 python3.11",
        "12345678901234567890123456789012345678901234567890",
        "$1,234.56 €1.234,56 ¥123,456 £0.99",
        "π≈3.14 e≈2.718 φ≈1.618 √2≈1.414",
        "IPv4 192.168.0.1 and IPv6 2001:0db8:85a3::8a2e:0370:7334",
        "ISBN 978-3-16-148410-0, DOI 10.1000/182",
        "1/2 3/4 5/8 22/7",
    ]
    seen = set(lines)
    while len(lines) < count:
        kind = rng.randrange(6)
        if kind == 0:
            line = " ".join(str(rng.randint(0, 10 ** rng.randint(1, 12))) for _ in range(rng.randint(2, 8)))
        elif kind == 1:
            line = f"{rng.uniform(-1000, 1000):.{rng.randint(1, 6)}f} {rng.choice(['kg', 'km/h', 'm²', '°C', '°F', 'MB', 'GiB', '%', 'ms', 'µs'])}"
        elif kind == 2:
            line = f"{rng.randint(1, 28):02d}.{rng.randint(1, 12):02d}.{rng.randint(1950, 2050)} at {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}"
        elif kind == 3:
            line = f"Order #{rng.randint(1000, 99999)}: {rng.randint(1, 20)} × {rng.choice(NOUNS)} @ ${rng.randint(1, 500)}.{rng.randint(0, 99):02d}"
        elif kind == 4:
            line = f"{rng.randint(1, 9)},{rng.randint(0, 999):03d},{rng.randint(0, 999):03d} {rng.choice(NOUNS)}s"
        else:
            line = "".join(rng.choice("0123456789") for _ in range(rng.randint(20, 99)))
        if line not in seen:
            seen.add(line)
            lines.append(line)
    return lines


DOMAINS = ["example.com", "huggingface.co", "github.com", "en.wikipedia.org", "sub.domain.co.uk",
           "xn--bcher-kva.example", "bücher.de", "例子.测试", "localhost:8080", "127.0.0.1:5000"]
PATHS = ["", "/", "/index.html", "/wiki/Tokenization_(lexical_analysis)", "/a/b/c?x=1&y=2#frag",
         "/search?q=hello+world&lang=en", "/~user/file.tar.gz", "/path%20with%20spaces",
         "/api/v1/items/42?sort=-date", "/models/bert-base-uncased/resolve/main/vocab.txt"]


def url_lines(rng, count):
    lines = [
        "Visit https://www.example.com/path?query=1&other=two#section for details.",
        "mailto:someone@example.com",
        "john.doe+newsletter@sub.example.co.uk",
        "ftp://ftp.example.org/pub/file.txt",
        "file:///home/user/Documents/report.pdf",
        "C:\\Users\\Public\\Documents\\file.txt",
        "git@github.com:huggingface/tokenizers.git",
        "@username #hashtag $TICKER",
        "www.example.com/page.php?id=123&lang=fr",
        "https://例子.测试/路径?查询=值",
        "<https://example.com> [link](http://example.org) <a href=\"/x\">x</a>",
    ]
    seen = set(lines)
    while len(lines) < count:
        kind = rng.randrange(3)
        if kind == 0:
            line = f"{rng.choice(['http', 'https'])}://{rng.choice(DOMAINS)}{rng.choice(PATHS)}"
        elif kind == 1:
            user = rng.choice(FIRST_NAMES).lower().replace(" ", "").replace("'", "") + rng.choice(["", ".", "_", "-", "+tag"]) + str(rng.randint(0, 99))
            line = f"Contact {user}@{rng.choice(DOMAINS)} or {rng.choice(['support', 'info', 'noreply'])}@{rng.choice(DOMAINS)}."
        else:
            line = f"See {rng.choice(['https', 'http'])}://{rng.choice(DOMAINS)}{rng.choice(PATHS)} (mirror: {rng.choice(DOMAINS)}{rng.choice(PATHS)})"
        if line not in seen:
            seen.add(line)
            lines.append(line)
    return lines


CODE = [
    "def tokenize(text: str) -> list[str]:",
    "    return [t for t in text.split() if t]",
    "for (int i = 0; i < n; ++i) { sum += a[i] * b[i]; }",
    "let ids = tokenizer.encode(\"Hello, world!\", addSpecialTokens: true)",
    "func foo<T: Equatable>(_ x: T) -> Bool { x == x }",
    "if (a && b || !c) return -1; else x <<= 2;",
    "SELECT id, name FROM users WHERE age >= 18 AND name LIKE '%son' ORDER BY id DESC;",
    "const f = (x) => x ?? 0; console.log(`value: ${f(null)}`);",
    "echo $HOME | grep -E '^/home/[a-z]+$' && cd ~/src || exit 1",
    "{\"key\": \"value\", \"list\": [1, 2, 3], \"nested\": {\"a\": null, \"b\": true}}",
    "<div class=\"container\"><p id='x'>Hello &amp; welcome</p></div>",
    "#include <stdio.h>\tint main(void) { printf(\"%d\\n\", 42); return 0; }",
    "x = a ** 2 + b // 3 - c % 4; y @= z; w ^= 0xFF",
    "regex: ^(?:[a-z0-9!#$%&'*+/=?^_`{|}~-]+)@(?:[a-z0-9-]+\\.)+[a-z]{2,}$",
    "std::vector<std::string> v{\"a\", \"b\"}; v.emplace_back(\"c\");",
    "fn main() { let s: &str = \"héllo\"; println!(\"{s:?}\"); }",
    "__init__.py __main__ _private __dunder__ CONSTANT_VALUE camelCaseName PascalCase",
    "pip install \"transformers==5.24.0\" tokenizers>=0.23",
    "git commit -m \"Fix: handle U+00AD in BertNormalizer\"",
    "# TODO(alice): remove this hack -- see issue #1234",
    "a[i][j] = b[j][i] /* transpose */ // comment",
    "λx.λy.x  ∀α. α → α  f ∘ g",
    "@objc dynamic var isEnabled: Bool = false",
    "=SUM(A1:A10)/COUNT(B:B)",
    "\\begin{equation} E = mc^2 \\end{equation}",
]


def code_lines(rng, count):
    lines = list(CODE)
    idents = ["foo", "bar", "baz", "qux", "tokenizer", "vocab", "input_ids", "maxLen", "i", "j",
              "self", "x0", "_tmp", "HTTPServer", "getValue", "parse_json", "utf8Bytes"]
    ops = [" = ", " == ", " != ", " += ", " -> ", " => ", " && ", " || ", "::", ".", "->", " <= ", " >= "]
    seen = set(lines)
    while len(lines) < count:
        kind = rng.randrange(3)
        if kind == 0:
            line = f"{rng.choice(idents)}{rng.choice(ops)}{rng.choice(idents)}({rng.choice(idents)}, {rng.randint(0, 999)});"
        elif kind == 1:
            line = f"if {rng.choice(idents)}[{rng.randint(0, 9)}]{rng.choice(ops)}{rng.choice(idents)}: {rng.choice(idents)}.{rng.choice(idents)}()"
        else:
            line = f"\t{rng.choice(['let', 'var', 'const', 'auto', 'int'])} {rng.choice(idents)} = \"{rng.choice(NOUNS)}\\t{rng.choice(NOUNS)}\"; // {rng.choice(ADJECTIVES)}"
        if line not in seen:
            seen.add(line)
            lines.append(line)
    return lines


SCRIPTS = {
    "arabic": ["مرحبا بالعالم", "اللغة العربية جميلة جداً.", "كَتَبَ الطَّالِبُ الدَّرْسَ", "السلام عليكم ورحمة الله",
               "الذكاء الاصطناعي يغير العالم، أليس كذلك؟", "ﷺ ﷲ ﻻ"],
    "hebrew": ["שלום עולם", "עִבְרִית עם ניקוד", "ירושלים היא עיר עתיקה.", "אני אוהב ללמוד שפות"],
    "devanagari": ["नमस्ते दुनिया", "हिन्दी भाषा बहुत सुंदर है।", "संस्कृतम् एका प्राचीना भाषा अस्ति॥", "क्षत्रिय ज्ञान श्री"],
    "thai": ["สวัสดีชาวโลก", "ภาษาไทยไม่มีการเว้นวรรคระหว่างคำ", "กรุงเทพมหานคร", "น้ำ ไม้ ก็ ปั่น"],
    "cyrillic": ["Привет, мир!", "Съешь же ещё этих мягких французских булок, да выпей чаю.", "Йошкар-Ола и Ёжик",
                 "Україна: їжак, ґанок, єнот", "Беларусь: ўсход", "Српски: Ђорђе, Љубав, Њива, Џак"],
    "greek": ["Γειά σου Κόσμε", "Η γρήγορη καφέ αλεπού πηδάει.", "ΟΔΟΣ ΟΔΟΣ. Οδός οδός", "Σίσυφος ΣΊΣΥΦΟΣ",
              "ἀρχὴ ἥμισυ παντός", "Ἀθῆναι ᾠδή ῥήτωρ"],
    "other": ["Բարև աշխարհ (Armenian) և", "გამარჯობა მსოფლიო (Georgian)", "ሰላም ዓለም (Ethiopic)",
              "வணக்கம் உலகம் (Tamil)", "হ্যালো বিশ্ব (Bengali)", "ສະບາຍດີ (Lao)", "မင်္ဂလာပါ (Burmese)",
              "ជំរាបសួរ (Khmer)", "ᏣᎳᎩ ᎦᏬᏂᎯᏍᏗ (Cherokee)", "ᚠᚢᚦᚨᚱᚲ (Runic)", "𐐀𐐁𐐨𐐩 (Deseret)",
              "ꓐꓳ (Lisu)", "ᠮᠣᠩᠭᠣᠯ (Mongolian)", "ܫܠܡܐ (Syriac)", "ދިވެހި (Thaana)", "ᐃᓄᒃᑎᑐᑦ (Inuktitut)"],
}


def mixed_script_lines(rng, count):
    lines = [t for k in SCRIPTS for t in SCRIPTS[k]]
    lines += [nfd(t) for t in SCRIPTS["greek"] + SCRIPTS["cyrillic"][:3]]
    pool = [w for k in SCRIPTS for t in SCRIPTS[k] for w in t.split()]
    seen = set(lines)
    while len(lines) < count:
        kind = rng.randrange(3)
        if kind == 0:
            line = " ".join(rng.choice(pool) for _ in range(rng.randint(2, 7)))
        elif kind == 1:
            line = f"{cap(rng.choice(NOUNS))} {rng.choice(pool)} {rng.choice(NOUNS)} {rng.choice(pool)}."
        else:
            line = rng.choice(pool) + rng.choice(["", "-", "/", ":"]) + rng.choice(NOUNS) + rng.choice(pool)
        if line not in seen:
            seen.add(line)
            lines.append(line)
    return lines


COMBINING_ALONE = [
    "\u0301", " \u0301 ", "\u0301\u0301\u0301", "a \u0301", "\u0301a", "a\u0301", "! \u0301",
    "!\u0301", "\u0301!", "\u20dd", "a\u20dd", "\u0489", "\u0903", "a\u0903", "\u093f", "\u0e31",
    "\u05b7", "\u064b", "\u0670", "\u3099", "\u309a", "\u3099\u309a", "か\u3099", "\u1dc0", "\u20e3",
    "1\u20e3", "\ufe20\ufe21", "\u0345", "\u0344", "\u0340\u0341", "\U0001d165\U0001d167",
    "\U000e0100", "Z\u0351\u036b\u0343\u036a\u0302\u036b\u033d\u034f\u0334\u0319\u0324\u031e\u0349a\u0360\u0357\u0310l\u0352g\u0357o\u036a",
    "\u0300 \u0301 \u0302 \u0303 \u0304 \u0305 \u0306 \u0307 \u0308",
    "\u0653\u0654\u0655", "\u1734", "\u1ac0", "\u0898", "\u0d3b", "\U0001e944",
]

# Characters whose General_Category changed after Unicode 8.0: tokenizers classifies them with
# Unicode 8.0 tables (the unicode_categories crate), Swift and Python use newer ones.
TABLE_EDGE = [
    "a\u2e43b a\u2e44b a\u2e4fb",      # Po in Unicode 9+, not punctuation for tokenizers
    "a\u2e52b a\u2e5db",              # Po in Unicode 13/14
    "a\u2e42b",                       # Ps in Unicode 8.0: punctuation for tokenizers
    "a\u166db",                       # Po in Unicode 8.0, So since 12: still punctuation for tokenizers
    "a\u061db",                       # Po since 14
    "a\u1734b",                       # Mn in 8.0, Mc since 14: stripped with strip_accents
    "a\u1ac0b a\u0898b",              # Mn added after 8.0: not stripped
    "a\u0890b a\U000110cdb a\U00013430b",  # Cf added after 8.0: not removed by clean_text
    "a\u061cb a\u180eb",              # Cf in 8.0: removed
    "a\U0001e95eb",                   # Adlam punctuation (Unicode 9)
    "a\U00011c41b",                   # Bhaiksuki danda (Unicode 9)
    "a\U000111c9b",                   # Po in 8.0, Mn since 11
    "a\u0378b a\u0380b a\U0003fffeb", # unassigned: kept
]


# Canonically equivalent spellings: tokenizers compares vocabulary entries byte for byte (after
# its own normalization), so when NFD is not applied (cased, uncased_keep_accents) U+037E is not
# ";" and U+F902 is not U+8ECA. (Swift's String == and String hashing use canonical equivalence.)
CANONICAL_EQUIVALENTS = [
    "a\u037eb ; \u037e ;",                      # GREEK QUESTION MARK = SEMICOLON
    "x\u0387y \u00b7 x\u00b7y",                  # GREEK ANO TELEIA = MIDDLE DOT
    "a\u1fefb ` a`b",                            # GREEK VARIA (Sk) = GRAVE ACCENT (ASCII punctuation)
    "\u2329x\u232a \u3008x\u3009",                # angle brackets = CJK angle brackets
    "\uf902\uf90a\uf963\uf967 \u8eca\u91d1\u5317\u4e0d",  # compatibility ideographs = unified
    "\u2126 \u03a9 \u03c9 \u212a K k \u212b \u00c5 \u00e5",
    "\u0340\u0341 \u0300\u0301 a\u0340 a\u0300",
    "caf\u00e9 cafe\u0301 CAF\u00c9 CAFE\u0301",
    "\u1112\u1161\u11ab\u1100\u116e\u11a8 \ud55c\uad6d",
    "\u0958 \u0915\u093c \u0929 \u0928\u093c",    # Devanagari nukta forms (composition exclusions)
]


def table_edge_lines():
    return list(TABLE_EDGE)


EMPTY_LIKE = ["", "", "", " ", "  ", "\t", "\t\t", " \t ", "\u00a0", "\u3000", "\u2003", "\u202f",
              "\u200b", "\x00", "\ufeff", "\u00ad", "\ufffd", "\x7f", "\x85", "\x0b", "\x0c",
              "\u200b\u200b", " \u200b ", "\u2060", "\u180e", "\ufe0f", "\u0301", " \x00 ", "\x1c\x1d\x1e\x1f",
              "\u2028 x", "\u2029 y"]


def empty_lines():
    # U+2028 and U+2029 are kept out of the corpus (see special_texts); drop those two entries.
    return [s for s in EMPTY_LIKE if "\u2028" not in s and "\u2029" not in s]


def build_corpus():
    rng = random.Random(SEED)
    sections = [
        ("english", english_lines(rng, 720)),
        ("accented_latin", accented_lines(rng, 280)),
        ("accent_edge", list(ACCENT_EDGE)),
        ("cjk", cjk_lines(rng, 260)),
        ("emoji", emoji_lines(rng, 150)),
        ("controls", control_lines(rng, 270)),
        ("whitespace", whitespace_lines(rng, 110)),
        ("punctuation", punctuation_lines(rng, 170)),
        ("long_words", long_word_lines(rng)),
        ("numbers", number_lines(rng, 90)),
        ("urls_emails", url_lines(rng, 80)),
        ("code", code_lines(rng, 80)),
        ("mixed_scripts", mixed_script_lines(rng, 150)),
        ("combining_alone", list(COMBINING_ALONE)),
        ("unicode8_table_edges", table_edge_lines()),
        ("canonical_equivalents", list(CANONICAL_EQUIVALENTS)),
        ("empty_and_whitespace_only", empty_lines()),
    ]
    lines, index = [], []
    for name, sec in sections:
        index.append({"name": name, "first": len(lines), "count": len(sec)})
        lines.extend(sec)
    for i, line in enumerate(lines):
        assert "\n" not in line and "\r" not in line, (i, line)
        assert "\u2028" not in line and "\u2029" not in line, (i, line)
        line.encode("utf-8")  # no lone surrogates
    # The first line is plain ASCII so that no reader mistakes a leading character for a BOM.
    assert lines[0].isascii() and lines[0].strip()
    return lines, index


# --------------------------------------------------------------------------------------------
# Texts that cannot live in the line-based corpus
# --------------------------------------------------------------------------------------------

def build_special_texts():
    rng = random.Random(SEED + 1)
    long_words = " ".join(rng.choice(NOUNS + ADJECTIVES) for _ in range(700))
    specials = [
        ("newline", "\n"),
        ("carriage_return", "\r"),
        ("crlf", "\r\n"),
        ("a_crlf_b", "a\r\nb"),
        ("a_lf_b", "a\nb"),
        ("a_cr_b", "a\rb"),
        ("line_separator", "x\u2028y"),
        ("paragraph_separator", "x\u2029y"),
        ("three_lines", "line one\nline two\nline three"),
        ("only_newlines", "\n\n\n"),
        ("newlines_and_spaces", " \n \r\n\t\n "),
        ("crlf_sentence", "Hello,\r\nWorld!\r\n"),
        ("newline_inside_word", "hel\nlo wor\rld"),
        ("vertical_tab_form_feed", "a\x0bb\x0cc d\x1ce\x1df\x1eg\x1fh i\x85j"),
        ("empty", ""),
        ("special_tokens_literal", "[CLS] hello [SEP] world [MASK] [PAD] [UNK]"),
        ("special_token_glued", "a[MASK]b[SEP]c"),
        ("special_tokens_lowercase", "[mask] [cls] [Sep] [ MASK ] [MASK"),
        ("unused_token_literal", "[unused0] [unused99]"),
        ("long_over_512", long_words),
        ("long_510_plus_2", " ".join(["word"] * 510)),                  # exactly 512 ids
        ("long_511_plus_2", " ".join(["word"] * 511)),                  # 513 ids: truncated
        ("truncation_splits_word", " ".join(["a"] * 509) + " unaffable unaffable"),
        ("long_cjk", "".join(rng.choice(CJK_CHARS) for _ in range(700))),
        ("long_with_newlines", "\n".join(english_lines(random.Random(SEED + 2), 60))),
        ("long_punctuation", "!?" * 400),
        ("emoji_newline", "👍🏽\n👨‍👩‍👧‍👦\r\n🇺🇸"),
        ("tab_newline_mix", "col1\tcol2\ncol3\tcol4"),
        ("cjk_newline", "中文\n日本語\r\n한국어"),
        ("accents_newline", "Café\nnaïve\r\n" + nfd("résumé")),
    ]
    for _, t in specials:
        t.encode("utf-8")
    return [n for n, _ in specials], [t for _, t in specials]


PAIRS = [
    ("How old are you?", "I am six years old."),
    ("Where is the station?", "Turn left at the bank, then walk two blocks."),
    ("The cat sat on the mat.", "A dog slept on the rug."),
    ("Café déjà vu", nfd("Café déjà vu")),
    ("東京は日本の首都です。", "Tokyo is the capital of Japan."),
    ("", "Only the second sequence."),
    ("Only the first sequence.", ""),
    ("", ""),
    ("Emoji 🤗 test", "👨‍👩‍👧‍👦 family"),
    ("unaffable", "antidisestablishmentarianism"),
    ("What's 2+2?", "It's 4!!!"),
    ("Hello\u00adworld", "zero\u200bwidth"),
    ("a" * 101, "b" * 100),
    ("[MASK] is special", "so is [SEP]"),
    ("Привет, мир!", "Γειά σου Κόσμε"),
    ("https://huggingface.co/models", "someone@example.com"),
    ("x\ty\u3000z", "\u00a0leading space"),
    ("İstanbul", "ISTANBUL"),
    ("def f(x): return x**2", "f(3) == 9"),
    ("A fairly long first sentence that keeps going for a while to make the pair longer than usual.",
     "And a second one, also of respectable length, with some punctuation; commas, semicolons: colons."),
]


# --------------------------------------------------------------------------------------------
# Tokenizers
# --------------------------------------------------------------------------------------------

CONFIGS = {
    "uncased": {"do_lower_case": True, "strip_accents": None, "tokenize_chinese_chars": True},
    "cased": {"do_lower_case": False, "strip_accents": None, "tokenize_chinese_chars": True},
    "uncased_keep_accents": {"do_lower_case": True, "strip_accents": False, "tokenize_chinese_chars": True},
    "no_chinese_split": {"do_lower_case": True, "strip_accents": None, "tokenize_chinese_chars": False},
}


def sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def ensure_minilm():
    if not (MINILM / "tokenizer.json").is_file() or not (MINILM / "vocab.txt").is_file():
        subprocess.run([str(ROOT / "scripts" / "fetch-minilm")], check=True)


def raw_tokenizer_from_json():
    tok = Tokenizer.from_file(str(MINILM / "tokenizer.json"))
    tok.no_padding()       # tokenizer.json carries padding Fixed(128) and truncation 128
    tok.no_truncation()
    return tok


def build_tokenizers():
    """Primary tokenizer and independent cross-check builds for every configuration."""
    vocab = str(BERT_TINY / "vocab.txt")
    out = {}
    for name, flags in CONFIGS.items():
        if name == "uncased":
            primary = AutoTokenizer.from_pretrained(str(MINILM))
            primary_desc = "transformers.AutoTokenizer.from_pretrained('models/all-MiniLM-L6-v2') (its tokenizer.json)"
        else:
            primary = BertTokenizer.from_pretrained(str(BERT_TINY), **flags)
            primary_desc = f"transformers.BertTokenizer.from_pretrained('Fixtures/bert-tiny', {', '.join(f'{k}={v!r}' for k, v in flags.items())})"
        wp = BertWordPieceTokenizer(vocab, clean_text=True, handle_chinese_chars=flags["tokenize_chinese_chars"],
                                    strip_accents=flags["strip_accents"], lowercase=flags["do_lower_case"])
        legacy = BertTokenizerLegacy(vocab, **flags)
        out[name] = {"primary": primary, "primary_desc": primary_desc, "wordpiece": wp, "legacy": legacy}
    return out


def verify_settings(toks):
    """Fail loudly if a configuration's flags did not take effect."""
    def norm(name):
        return toks[name]["primary"].backend_tokenizer.normalizer

    expect = {  # text -> normalized form per configuration
        "uncased": {"Héllo 中文": "hello  中  文 "},
        "cased": {"Héllo 中文": "Héllo  中  文 "},
        "uncased_keep_accents": {"Héllo 中文": "héllo  中  文 "},
        "no_chinese_split": {"Héllo 中文": "hello 中文"},
    }
    for name, cases in expect.items():
        for text, want in cases.items():
            got = norm(name).normalize_str(text)
            assert got == want, (name, text, got, want)
            got_wp = toks[name]["wordpiece"].normalizer.normalize_str(text)
            assert got_wp == want, (name, "wordpiece", text, got_wp, want)

    def ids(name, text):
        return toks[name]["primary"](text)["input_ids"]

    assert ids("cased", "Hello") != ids("cased", "hello"), "cased config lower-cases"
    assert ids("uncased", "Hello") == ids("uncased", "hello")
    assert ids("uncased_keep_accents", "café") != ids("uncased_keep_accents", "cafe"), "accents stripped"
    assert ids("uncased", "café") == ids("uncased", "cafe")
    assert ids("uncased_keep_accents", "CAFÉ") == ids("uncased_keep_accents", "café")
    assert ids("no_chinese_split", "的是") != ids("uncased", "的是"), "chinese chars split"

    settings = {}
    for name, flags in CONFIGS.items():
        state = json.loads(toks[name]["primary"].backend_tokenizer.to_str())
        model = dict(state["model"])
        model.pop("vocab")
        effective_strip = flags["do_lower_case"] if flags["strip_accents"] is None else flags["strip_accents"]
        settings[name] = {
            "source": toks[name]["primary_desc"],
            "cross_checked_with": [
                f"tokenizers.implementations.BertWordPieceTokenizer('Fixtures/bert-tiny/vocab.txt', clean_text=True, "
                f"handle_chinese_chars={flags['tokenize_chinese_chars']}, strip_accents={flags['strip_accents']}, "
                f"lowercase={flags['do_lower_case']})"
            ] + (["tokenizers.Tokenizer.from_file('models/all-MiniLM-L6-v2/tokenizer.json') with no_padding() "
                  "and no_truncation()",
                  "transformers.BertTokenizer.from_pretrained('Fixtures/bert-tiny')"] if name == "uncased" else []),
            "do_lower_case": flags["do_lower_case"],
            "strip_accents": flags["strip_accents"],
            "tokenize_chinese_chars": flags["tokenize_chinese_chars"],
            "clean_text": True,
            "effective_strip_accents": effective_strip,
            "backend_normalizer": state["normalizer"],
            "backend_pre_tokenizer": state["pre_tokenizer"],
            "backend_model": model,
            "special_tokens_matched_in_raw_text": [t["content"] for t in state["added_tokens"]],
        }
    return settings


def encode_all(tok, texts, **kw):
    return [list(tok(t, **kw)["input_ids"]) for t in texts]


def encode_raw(tok, texts):
    return [enc.ids for enc in tok.encode_batch(texts)]


def legacy_ids(legacy, texts):
    return [legacy(t)["input_ids"] for t in texts]


# --------------------------------------------------------------------------------------------
# Character classes as implemented (scanned through the tokenizers library itself)
# --------------------------------------------------------------------------------------------

def ranges(cps):
    out = []
    for cp in cps:
        if out and out[-1][1] == cp - 1:
            out[-1][1] = cp
        else:
            out.append([cp, cp])
    return [f"{a:04X}" if a == b else f"{a:04X}-{b:04X}" for a, b in out]


def scan_char_classes():
    clean = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=False, strip_accents=False, lowercase=False)
    chinese = normalizers.BertNormalizer(clean_text=False, handle_chinese_chars=True, strip_accents=False, lowercase=False)
    strip = normalizers.BertNormalizer(clean_text=False, handle_chinese_chars=False, strip_accents=True, lowercase=False)
    pre = pre_tokenizers.BertPreTokenizer()
    removed, to_space, cjk, punct, split_ws, vanish = [], [], [], [], [], []
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        c = chr(cp)
        r = clean.normalize_str(c)
        if r == "":
            removed.append(cp)
        elif r == " " and c != " ":
            to_space.append(cp)
        if chinese.normalize_str(c) != c:
            cjk.append(cp)
        if strip.normalize_str(c) == "":
            vanish.append(cp)
        pieces = pre.pre_tokenize_str("a" + c + "a")
        if len(pieces) == 3:
            punct.append(cp)
        elif len(pieces) == 2:
            split_ws.append(cp)
    return {
        "note": "Code-point ranges (hex, inclusive) found by running every scalar value through the "
                "installed tokenizers library, one character at a time.",
        "clean_text_removes": ranges(removed),
        "clean_text_to_space": ranges(to_space),
        "chinese_spaced": ranges(cjk),
        "pre_tokenizer_punctuation": ranges(punct),
        "pre_tokenizer_whitespace": ranges(split_ws),
        "strip_accents_removes_alone": ranges(vanish),
    }


# --------------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------------

def dump(obj, indent=0):
    """JSON with one id list per line; ASCII only (every non-ASCII character escaped)."""
    pad = "  " * indent
    inner = "  " * (indent + 1)
    if isinstance(obj, dict):
        if not obj:
            return "{}"
        items = [f"{inner}{json.dumps(k)}: {dump(v, indent + 1)}" for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(obj, list):
        if all(isinstance(x, int) and not isinstance(x, bool) for x in obj):
            return json.dumps(obj, separators=(",", ":"))
        if not obj:
            return "[]"
        items = [inner + dump(x, indent + 1) for x in obj]
        return "[\n" + ",\n".join(items) + "\n" + pad + "]"
    return json.dumps(obj, ensure_ascii=True)


def diff_examples(a, b, texts, limit=5):
    idx = [i for i in range(len(texts)) if a[i] != b[i]]
    return idx, [(i, texts[i]) for i in idx[:limit]]


def main():
    ensure_minilm()
    OUT_DIR.mkdir(parents=True, exist_ok=True)

    lines, sections = build_corpus()
    with open(CORPUS, "w", encoding="utf-8", newline="") as f:
        f.write("\n".join(lines) + "\n")
    # Read back: split on U+000A only (str.splitlines would also split on U+000B, U+000C,
    # U+001C-U+001E, U+0085 which the corpus contains).
    back = CORPUS.read_bytes().decode("utf-8").split("\n")
    assert back[-1] == "" and back[:-1] == lines

    special_names, special_texts = build_special_texts()
    toks = build_tokenizers()
    settings = verify_settings(toks)
    raw_uncased = raw_tokenizer_from_json()
    tiny_uncased = BertTokenizer.from_pretrained(str(BERT_TINY))

    configurations, special_ids, truncated_ids = {}, {}, {}
    problems = []
    legacy_report = {}
    for name in CONFIGS:
        t = toks[name]
        ids = encode_all(t["primary"], lines)
        longest = max(len(x) for x in ids)
        assert longest <= MAX_LEN, f"{name}: a corpus line gives {longest} ids"
        wp_ids = encode_raw(t["wordpiece"]._tokenizer, lines)
        n = sum(a != b for a, b in zip(ids, wp_ids))
        if n:
            problems.append(f"{name}: {n} lines differ from BertWordPieceTokenizer")
        sp = encode_all(t["primary"], special_texts)
        sp_wp = encode_raw(t["wordpiece"]._tokenizer, special_texts)
        if sp != sp_wp:
            problems.append(f"{name}: special texts differ from BertWordPieceTokenizer")
        tr = encode_all(t["primary"], special_texts, truncation=True, max_length=MAX_LEN)
        configurations[name] = {"settings": settings[name], "ids": ids}
        special_ids[name] = sp
        truncated_ids[name] = tr
        # Informational: the pure-Python BERT tokenizer (the original Google algorithm as kept in
        # transformers) is NOT the reference, but its differences show where the Rust one deviates.
        leg = legacy_ids(t["legacy"], lines)
        idx, ex = diff_examples(ids, leg, lines)
        legacy_report[name] = (len(idx), ex, idx)

    # Uncased cross-checks (step 3).
    uncased = configurations["uncased"]["ids"]
    raw_ids = encode_raw(raw_uncased, lines)
    n_raw = sum(a != b for a, b in zip(uncased, raw_ids))
    tiny_ids = encode_all(tiny_uncased, lines)
    n_tiny = sum(a != b for a, b in zip(uncased, tiny_ids))
    tiny_sp = encode_all(tiny_uncased, special_texts)
    n_tiny_sp = sum(a != b for a, b in zip(special_ids["uncased"], tiny_sp))
    if n_raw:
        problems.append(f"uncased: {n_raw} lines differ from tokenizer.json through tokenizers.Tokenizer")
    if n_tiny or n_tiny_sp:
        problems.append(f"uncased: {n_tiny} lines / {n_tiny_sp} special texts differ from BertTokenizer(Fixtures/bert-tiny)")

    # Pairs: the batched transformers call and tokenizers agree; transformers' single call
    # tok(a, b) treats an empty b as "no pair" and is recorded separately when it differs.
    pairs = []
    prim = toks["uncased"]["primary"]
    for a, b in PAIRS:
        batched = prim([a], [b])
        ids, type_ids = list(batched["input_ids"][0]), list(batched["token_type_ids"][0])
        raw = raw_uncased.encode(a, b)
        if raw.ids != ids or raw.type_ids != type_ids:
            problems.append(f"pair {a!r} / {b!r} differs between AutoTokenizer and tokenizers.Tokenizer")
        entry = {"a": a, "b": b, "ids": ids, "token_type_ids": type_ids}
        single = prim(a, b)
        if list(single["input_ids"]) != ids:
            entry["transformers_single_call_ids"] = list(single["input_ids"])
            entry["transformers_single_call_token_type_ids"] = list(single["token_type_ids"])
        pairs.append(entry)

    char_classes = scan_char_classes()

    generator = (f"Fixtures/generators/make_tokenizer_goldens.py (seed {SEED}); "
                 f"transformers {transformers.__version__}, tokenizers {tokenizers.__version__}, "
                 f"Python {platform.python_version()}")
    golden = {
        "generator": generator,
        "corpus": {
            "path": "Fixtures/tokenizer/corpus.txt",
            "lines": len(lines),
            "sha256": sha256(CORPUS),
            "line_separator": "U+000A only; the file ends with U+000A; lines contain no U+000D, U+2028, U+2029 "
                              "but do contain U+000B, U+000C, U+001C-U+001F and U+0085",
            "sections": sections,
        },
        "vocab_sha256": sha256(BERT_TINY / "vocab.txt"),
        "tokenizer_json_sha256": sha256(MINILM / "tokenizer.json"),
        "encoding": "input_ids with [CLS] (101) and [SEP] (102), no padding, no truncation; [UNK] is 100",
        "configurations": configurations,
        "special_names": special_names,
        "special_texts": special_texts,
        "special_ids": special_ids,
        "truncated_ids_note": "truncation=True, max_length=512 (longest_first): 510 word pieces, then [SEP]",
        "truncated_ids": truncated_ids,
        "pairs_config": "uncased",
        "pairs_note": "ids/token_type_ids: [CLS] a [SEP] b [SEP], types 0 then 1, as tokenizers and the batched "
                      "transformers call tok([a], [b]) give them; the single call tok(a, b) drops an empty b",
        "pairs": pairs,
        "hf_char_classes": char_classes,
    }
    GOLDEN.write_text(dump(golden) + "\n", encoding="ascii")
    assert json.loads(GOLDEN.read_text(encoding="ascii"))["special_texts"] == special_texts

    # Summary.
    print(generator)
    print(f"corpus: {len(lines)} lines, {CORPUS.stat().st_size} bytes -> {CORPUS.relative_to(ROOT)}")
    print(f"golden: {GOLDEN.stat().st_size} bytes -> {GOLDEN.relative_to(ROOT)}")
    print("sections: " + ", ".join(f"{s['name']} {s['count']}" for s in sections))
    print(f"special texts: {len(special_texts)}; pairs: {len(pairs)}")
    for name in CONFIGS:
        ids = configurations[name]["ids"]
        unk = sum(UNK_ID in x for x in ids)
        total = sum(len(x) for x in ids)
        longest = max(len(x) for x in ids)
        over = [special_names[i] for i, x in enumerate(special_ids[name]) if len(x) > MAX_LEN]
        print(f"  {name:22s} lines with [UNK]: {unk:4d}   ids: {total:6d}   longest line: {longest:3d} ids   "
              f"special texts over 512: {', '.join(over)}")
    print(f"uncased vs tokenizers.Tokenizer(tokenizer.json): {n_raw} lines differ")
    print(f"uncased vs transformers.BertTokenizer(Fixtures/bert-tiny): {n_tiny} lines differ, "
          f"{n_tiny_sp} special texts differ")
    for name in CONFIGS:
        n, ex, idx = legacy_report[name]
        print(f"  (informational) {name} vs pure-Python BertTokenizerLegacy: {n} lines differ")
        for i, text in ex:
            print(f"      line {i}: {text!r}")
    if problems:
        print("PROBLEMS:")
        for p in problems:
            print("  " + p)
        sys.exit(1)
    print("all cross-checks passed")


if __name__ == "__main__":
    main()
