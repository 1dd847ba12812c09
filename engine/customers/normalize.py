"""Identity rules: unified social credit codes, company names and phone numbers, each brought to one
normal form so that two spellings of the same thing compare equal.
"""
import re
import unicodedata

# GB 32100-2015: 31 characters (no I, O, Z, S, V), weights 3^i mod 31 for the first 17 positions.
CREDIT_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_CREDIT_VALUE = {c: i for i, c in enumerate(CREDIT_CHARS)}


def credit_check_char(first17: str) -> str:
    total = sum(_CREDIT_VALUE[c] * w for c, w in zip(first17, CREDIT_WEIGHTS))
    return CREDIT_CHARS[(31 - total % 31) % 31]


def normalize_credit_code(value) -> str | None:
    """The code in upper-case half-width form, or None when empty. Raises ValueError naming the fault."""
    if value is None:
        return None
    code = re.sub(r"[\s-]", "", unicodedata.normalize("NFKC", str(value))).upper()
    if not code:
        return None
    if len(code) != 18:
        raise ValueError(f"a unified social credit code has 18 characters, not {len(code)}")
    bad = sorted({c for c in code if c not in _CREDIT_VALUE})
    if bad:
        raise ValueError(f"character(s) {', '.join(bad)} cannot appear in a unified social credit code")
    if not code[2:8].isdigit():
        raise ValueError("characters 3 to 8 of a unified social credit code are the region code (digits)")
    expected = credit_check_char(code[:17])
    if code[17] != expected:
        raise ValueError(f"check digit is {code[17]} but should be {expected}: the code is mistyped")
    return code


# ---- company names ------------------------------------------------------------------------------
_BRACKETS = str.maketrans({"【": "(", "】": ")", "〔": "(", "〕": ")", "[": "(", "]": ")", "{": "(", "}": ")",
                           "〈": "(", "〉": ")", "《": "(", "》": ")", "<": "(", ">": ")"})
_SUFFIXES = ("股份有限公司", "有限责任公司", "有限公司", "co.,ltd", "co.ltd", "co,ltd", "coltd", "company",
             "limited", "ltd", "inc", "corporation", "corp", "llc", "公司")
_DROP = re.compile(r"[\s\.,;:·•'\"`!?&\-_/\\、，。；：！？“”‘’]+")


def normalize_name(value) -> str | None:
    """A key for comparing company names: 'XX科技（中国）有限公司' and 'XX 科技有限公司' give the same key.

    Full-width forms become half-width (NFKC), brackets and their '(中国)' marker go, spaces and
    punctuation go, and legal-form suffixes are stripped (repeatedly, so 'X集团有限公司' keeps '集团').
    """
    if value is None:
        return None
    text = unicodedata.normalize("NFKC", str(value)).translate(_BRACKETS).casefold()
    text = re.sub(r"\((中国|china)\)", "", text)
    text = text.replace("(", "").replace(")", "")
    text = _DROP.sub("", text)
    changed = True
    while changed and text:
        changed = False
        for suffix in _SUFFIXES:
            stripped = suffix.replace(".", "").replace(",", "")
            if text.endswith(stripped) and len(text) > len(stripped):
                text = text[: -len(stripped)]
                changed = True
                break
    return text or None


# ---- phone numbers ------------------------------------------------------------------------------
_EXT = re.compile(r"(?:转|分机|ext\.?|x|#)\s*(\d{1,6})$", re.IGNORECASE)


def normalize_phone(value) -> str | None:
    """E.164-like form: mainland mobiles '+86' and 11 digits, landlines '+86' + area code without the
    trunk 0 + number (an extension as ';ext=123'), other countries '+' and digits. None when empty.
    Raises ValueError naming the fault."""
    if value is None:
        return None
    text = unicodedata.normalize("NFKC", str(value)).strip()
    if isinstance(value, float) and value.is_integer():  # a number read from a spreadsheet
        text = str(int(value))
    if not text:
        return None
    ext = None
    match = _EXT.search(text)
    if match:
        ext, text = match.group(1), text[: match.start()]
    digits = re.sub(r"[\s\-\(\)\.]", "", text)
    if not re.fullmatch(r"\+?\d+", digits):
        raise ValueError(f"'{value}' is not a phone number")
    if digits.startswith("+"):
        full = digits[1:]
    elif digits.startswith("00"):
        full = digits[2:]
    elif re.fullmatch(r"861\d{10}", digits):
        full = digits
    elif re.fullmatch(r"1\d{10}", digits) or re.fullmatch(r"[48]00\d{7}", digits):
        full = "86" + digits
    elif digits.startswith("0"):
        full = "86" + digits[1:]
    else:
        raise ValueError(f"'{value}': a landline needs its area code (e.g. 010-12345678)")
    if not full.startswith("86"):
        if not 6 <= len(full) <= 15:
            raise ValueError(f"'{value}' has the wrong number of digits for an international number")
        return "+" + full + (f";ext={ext}" if ext else "")
    national = full[2:].removeprefix("0")
    if national.startswith("1") and not national.startswith("10"):
        if not re.fullmatch(r"1[3-9]\d{9}", national):
            raise ValueError(f"'{value}': a mainland mobile number has 11 digits starting 13-19")
    elif national.startswith(("400", "800")):
        if len(national) != 10:
            raise ValueError(f"'{value}': a 400/800 number has 10 digits")
    elif national.startswith(("10", "2")):
        if len(national) != 10:
            raise ValueError(f"'{value}': a landline in area 0{national[:2]} is the area code and 8 digits")
    elif len(national) not in (10, 11):
        raise ValueError(f"'{value}': a landline is a 3-digit area code and 7 or 8 digits")
    return "+86" + national + (f";ext={ext}" if ext else "")


def mask_phone(phone: str | None) -> str | None:
    """'+8613812345678' -> '+86138****5678': enough to recognise, not to call."""
    if not phone:
        return phone
    base, _, _ = phone.partition(";")
    if len(base) <= 7:
        return "*" * len(base)
    return base[:-8] + "****" + base[-4:]
