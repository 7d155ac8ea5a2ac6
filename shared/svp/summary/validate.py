"""The model's answer checked against the schema, and coerced where the meaning is clear.

"3" becomes 3, "yes" becomes true, "March 3, 2026" becomes "2026-03-03", a bare
"www.example.com" becomes "https://www.example.com", option names are matched to the
database's existing options regardless of case. A value that cannot be made valid is dropped
with a problem saying why: nothing reaches Notion that Notion would refuse.

Structural problems (not JSON, not an object, no title, no items) raise `AnswerError`: they
are worth a repair attempt. Field problems are returned: the caller decides whether to ask
again (once) or to drop the values with a note.
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from svp.summary.json_schema import ITEMS_KEY, field_for, options_of, summary_key
from svp.summary.targets import Schema, title_property

MAX_ITEMS = 20
TEXT_VALUE_LIMIT = 20000  # characters; Notion allows 100 objects of 2000 characters
OPTION_LIMIT = 100
URL_LIMIT = 2000
SHORT_LIMIT = 200  # email and phone_number
MULTI_LIMIT = 100

_FENCE = re.compile(r"^\s*```(?:json|JSON)?\s*\n?(.*?)\n?\s*```\s*$", re.S)


class AnswerError(ValueError):
    """The answer cannot be used as a whole (not JSON, wrong shape, no title)."""


@dataclass
class Checked:
    items: list[dict[str, Any]]
    summary: str = ""
    problems: list[str] = field(default_factory=list)  # values dropped, and why
    ignored: list[str] = field(default_factory=list)  # keys that are not properties


def parse_json(text: str | None) -> Any:
    """JSON from the model's text; tolerates a Markdown code fence around it."""
    if text is None or not text.strip():
        raise AnswerError("the answer is empty")
    if match := _FENCE.match(text):
        text = match.group(1)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise AnswerError(f"the answer is not valid JSON ({exc})") from None


def check_answer(data: Any, schema: Schema, many: bool = False) -> Checked:
    """Items of valid plain values from a parsed answer; raises AnswerError when unusable."""
    if not isinstance(data, dict):
        raise AnswerError(f"the answer must be a JSON object, not {type(data).__name__}")
    key = summary_key(schema)
    summary = data.get(key) if isinstance(data.get(key), str) else ""
    if many:
        raw_items = data.get(ITEMS_KEY)
        if isinstance(raw_items, dict):
            raw_items = [raw_items]
        if not isinstance(raw_items, list):
            raise AnswerError(f'the answer needs an "{ITEMS_KEY}" array of entries')
    else:
        raw_items = [{k: v for k, v in data.items() if k != key}]
    checked = Checked(items=[], summary=summary.strip())
    title = title_property(schema)
    for index, raw in enumerate(raw_items[:MAX_ITEMS]):
        where = f"item {index + 1}: " if many else ""
        if not isinstance(raw, dict):
            checked.problems.append(f"{where}not a JSON object")
            continue
        values = _check_item(raw, schema, where, checked)
        if title and not values.get(title):
            checked.problems.append(f'{where}the title "{title}" is missing')
            continue
        checked.items.append(values)
    if len(raw_items) > MAX_ITEMS:
        checked.problems.append(f"only the first {MAX_ITEMS} of {len(raw_items)} items are kept")
    if not checked.items:
        reasons = "; ".join(checked.problems) or "no entries"
        raise AnswerError(f"the answer has no usable entry ({reasons})")
    return checked


def _check_item(raw: dict, schema: Schema, where: str, checked: Checked) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, value in raw.items():
        prop = schema.get(name)
        if prop is None or field_for(prop) is None:
            if value not in (None, "", []):
                checked.ignored.append(f"{where}{name}")
            continue
        coerced, problem = coerce(prop, value)
        if problem:
            checked.problems.append(f"{where}{name}: {problem}")
        elif coerced not in (None, "", []):
            values[name] = coerced
    return values


# -- one value -----------------------------------------------------------------------------


def coerce(prop: dict[str, Any], value: Any) -> tuple[Any, str | None]:
    """(valid plain value or None, problem or None) for a value of the property's type."""
    if value is None or value == "" or value == []:
        return None, None
    kind = prop["type"]
    coercer = _COERCERS.get(kind)
    if coercer is None:
        return None, f"a {kind} property is not filled by the summary"
    try:
        return coercer(prop, value), None
    except ValueError as exc:
        return None, f"{_show(value)} ({exc})"


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 80 else text[:77] + "..."


def _text(prop: dict, value: Any) -> str:
    if isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
        text = "\n".join(str(v).strip() for v in value if str(v).strip())
    elif isinstance(value, str | int | float) and not isinstance(value, bool):
        text = str(value)
    else:
        raise ValueError("not text")
    text = text.strip()
    if prop["type"] == "title":
        text = re.sub(r"\s+", " ", text)
    if len(text) > TEXT_VALUE_LIMIT:
        cut = text.rfind(" ", 0, TEXT_VALUE_LIMIT) if " " in text else TEXT_VALUE_LIMIT
        text = text[:cut] + "…"
    return text


# Number words up to twenty, shared with the evidence matcher.
NUMBER_WORDS = (
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
    "twenty",
)
_NUMBER_WORDS: dict[str, float] = {word: i for i, word in enumerate(NUMBER_WORDS)} | {
    "a dozen": 12,
    "dozen": 12,
    "half": 0.5,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
}
_NUMBER = re.compile(r"^[~≈±]?\s*[$€£¥]?\s*([-+]?\d[\d.,' ]*)\s*(%|[$€£¥])?$")


def _number(prop: dict, value: Any) -> int | float:
    if isinstance(value, bool):
        raise ValueError("a boolean is not a number")
    if isinstance(value, int | float):
        return value
    if not isinstance(value, str):
        raise ValueError("not a number")
    text = value.strip().lower()
    if text in _NUMBER_WORDS:
        return _NUMBER_WORDS[text]
    match = _NUMBER.match(text)
    if not match:
        raise ValueError("not a number")
    digits = match.group(1).replace(" ", "").replace("'", "")
    if "," in digits and "." in digits:  # the last separator is the decimal one
        decimal = "," if digits.rfind(",") > digits.rfind(".") else "."
        digits = digits.replace("." if decimal == "," else ",", "").replace(",", ".")
    elif "," in digits:
        head, _, tail = digits.rpartition(",")
        thousands = len(tail) == 3 and all(len(g) == 3 for g in head.split(",")[1:])
        digits = digits.replace(",", "") if thousands else head.replace(",", "") + "." + tail
    try:
        number = float(digits)
    except ValueError:
        raise ValueError("not a number") from None
    return int(number) if number.is_integer() and "." not in digits else number


_TRUE = {"yes", "true", "y", "1", "x", "✓", "✔", "oui", "sí", "si", "ja", "sim", "да", "checked"}
_FALSE = {"no", "false", "n", "0", "non", "nein", "não", "нет", "unchecked", "none"}


def _checkbox(prop: dict, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    text = str(value).strip().lower().rstrip(".!")
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError("not yes or no")


_MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for name in names
}
_WEEKDAYS = re.compile(r"\b(mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun)(day|nesday|rsday)?\b")


def parse_date(text: str) -> str:
    """An ISO date (or date-time) from ISO text or English words; ValueError otherwise."""
    text = text.strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return date.fromisoformat(text).isoformat()
    if re.match(r"\d{4}-\d{2}-\d{2}[T ]\d", text):
        return datetime.fromisoformat(text.replace(" ", "T", 1)).isoformat()
    if match := re.fullmatch(r"(\d{4})[/.](\d{1,2})[/.](\d{1,2})", text):
        return date(*map(int, match.groups())).isoformat()
    if match := re.fullmatch(r"(\d{1,2})[/.](\d{1,2})[/.](\d{4})", text):
        first, second, year = map(int, match.groups())
        if first > 12 >= second:
            return date(year, second, first).isoformat()
        if second > 12 >= first:
            return date(year, first, second).isoformat()
        raise ValueError("ambiguous day and month")
    words = _WEEKDAYS.sub(" ", text.lower())
    words = re.sub(r"(\d+)(st|nd|rd|th)\b", r"\1", words)
    tokens = re.findall(r"[a-z]+|\d+", words)
    months = [_MONTHS[t] for t in tokens if t in _MONTHS]
    numbers = [int(t) for t in tokens if t.isdigit()]
    years = [n for n in numbers if n >= 1000]
    days = [n for n in numbers if 1 <= n <= 31]
    extra = [t for t in tokens if not t.isdigit() and t not in _MONTHS and t not in ("of", "the")]
    if len(months) == 1 and len(years) == 1 and len(days) == 1 and not extra:
        return date(years[0], months[0], days[0]).isoformat()
    if len(months) == 1 and len(years) == 1 and not days and not extra:
        return date(years[0], months[0], 1).isoformat()
    raise ValueError("not a date with a day, month and year")


def _date(prop: dict, value: Any) -> str:
    if isinstance(value, dict) and "start" in value:
        value = value["start"]
    if not isinstance(value, str):
        raise ValueError("not a date")
    try:
        return parse_date(value)
    except ValueError as exc:
        raise ValueError(str(exc) if "ambiguous" in str(exc) else "not a date") from None


_DOMAIN = re.compile(r"^[\w-]+(\.[\w-]+)*\.[a-z]{2,}(:\d+)?(/\S*)?$", re.I)


def _url(prop: dict, value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("not a URL")
    url = value.strip().strip("<>").strip()
    if _DOMAIN.match(url):
        url = "https://" + url
    if not re.match(r"^https?://[^\s/]+\S*$", url, re.I) or " " in url:
        raise ValueError("not an http(s) URL")
    if len(url) > URL_LIMIT:
        raise ValueError(f"longer than {URL_LIMIT} characters")
    return url


def _email(prop: dict, value: Any) -> str:
    text = str(value).strip().removeprefix("mailto:")
    if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", text) or len(text) > SHORT_LIMIT:
        raise ValueError("not an email address")
    return text


def _phone(prop: dict, value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError("not a phone number")
    text = str(value).strip().removeprefix("tel:")
    if not re.fullmatch(r"[+\d][\d\s().\-/]*(\s*(ext\.?|x)\s*\d+)?", text, re.I):
        raise ValueError("not a phone number")
    if sum(c.isdigit() for c in text) < 5 or len(text) > SHORT_LIMIT:
        raise ValueError("not a phone number")
    return text


def _canonical(name: str, options: list[str]) -> str | None:
    key = re.sub(r"\s+", " ", name).strip().casefold()
    return next((o for o in options if re.sub(r"\s+", " ", o).strip().casefold() == key), None)


def _option_text(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError("not an option name")
    name = re.sub(r"\s+", " ", str(value).replace(",", " ")).strip()
    return name[:OPTION_LIMIT].strip()


def _select(prop: dict, value: Any) -> str:
    if isinstance(value, list):
        if len(value) != 1:
            raise ValueError("one option expected")
        value = value[0]
    name = _option_text(value)
    options = options_of(prop)
    existing = _canonical(name, options)
    if existing:
        return existing
    if prop["type"] == "status":
        shown = ", ".join(options) or "none"
        raise ValueError(f"not an existing status option (options: {shown})")
    if not name:
        raise ValueError("empty option name")
    return name


def _multi_select(prop: dict, value: Any) -> list[str]:
    parts = value if isinstance(value, list) else [value]
    names: list[str] = []
    for part in parts:
        if isinstance(part, str):
            names += [p for p in re.split(r"[,;\n]", part) if p.strip()]
        else:
            names.append(_option_text(part))
    options = options_of(prop)
    result: dict[str, str] = {}
    for raw in names:
        name = _option_text(raw)
        if name:
            name = _canonical(name, options) or name
            result.setdefault(name.casefold(), name)
    if not result:
        raise ValueError("no option names")
    return list(result.values())[:MULTI_LIMIT]


def _files(prop: dict, value: Any) -> list[str]:
    """Files by their http(s) URLs; entries that are not one are left out."""
    urls = []
    for entry in value if isinstance(value, list) else [value]:
        with contextlib.suppress(ValueError):
            urls.append(_url(prop, entry))
    if not urls:
        raise ValueError("no http(s) URL")
    return urls[:MULTI_LIMIT]


def _ids(prop: dict, value: Any) -> list[str]:
    """People: user ids (the pipeline's own value: whoever saved the link)."""
    ids = [str(v).strip() for v in (value if isinstance(value, list) else [value]) if v]
    if not ids:
        raise ValueError("no user ids")
    return ids[:MULTI_LIMIT]


def _titles(prop: dict, value: Any) -> list[str]:
    """A relation's value: the related entries' titles (the writer finds their pages)."""
    parts = value if isinstance(value, list) else [value]
    titles = [str(part).strip() for part in parts if isinstance(part, str | int | float)]
    titles = list(dict.fromkeys(t for t in titles if t))
    if not titles:
        raise ValueError("no entry titles")
    return titles[:MULTI_LIMIT]


_COERCERS = {
    "relation": _titles,
    "people": _ids,
    "files": _files,
    "title": _text,
    "rich_text": _text,
    "number": _number,
    "checkbox": _checkbox,
    "date": _date,
    "url": _url,
    "email": _email,
    "phone_number": _phone,
    "select": _select,
    "status": _select,
    "multi_select": _multi_select,
}
