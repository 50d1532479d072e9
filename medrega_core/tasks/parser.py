"""Turn a MedRegA answer into named regions, without ever raising.

Grammar accepted (spec B.6): ``<ref>name</ref><box>[[x1, y1, x2, y2], ...]</box>`` groups joined by
commas, Chinese commas, newlines or prose (``<ref>A</ref> is located in <box>...</box>``); bare
``[[...]]`` lists with or without ``<box>`` (a bare list without ``<ref>`` is named by the words right
before it, as in MedRegA's Chinese reports: ``胰腺癌[[690, 472, 735, 511]]：...``); a description after ``:`` or ``：`` that belongs to every
group of the run of groups before it. Full-width digits, commas, brackets, colons and angle
brackets are read as their ASCII forms. Everything odd is repaired or dropped and written to
``ParsedAnswer.issues``: clamped (outside 0..999), reordered (inverted corners), rounded
(decimals), zero-area (dropped), malformed (not four numbers, dropped), unclosed (truncated
output: the complete quadruples are kept, the cut one dropped), name-without-box.

All spans are ``(start, end)`` character offsets into the ORIGINAL answer text, so a UI can
colour the words; full-width normalisation maps one character to one character to keep them valid.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from enum import Enum

from medrega_core.errors import N_
from medrega_core.i18n import translate
from medrega_core.tasks.coordinates import MODEL_GRID_MAX, ModelBox, PixelBox, to_pixels

Span = tuple[int, int]

# One character to one character, so offsets in the normalised text are offsets in the original.
_FULL_WIDTH = str.maketrans(
    {chr(0xFF10 + d): str(d) for d in range(10)}
    | {"，": ",", "［": "[", "］": "]", "【": "[", "】": "]", "：": ":", "＜": "<", "＞": ">", "／": "/",
       "　": " ", "－": "-", "．": ".", "；": ";"}
)
_TOKEN = re.compile(r"<ref>|<box>|\[[ \t]*\[")
_LIST_CHARS = set("0123456789 \t,.-+[]")
_NUMBER = re.compile(r"[+-]?\d+(?:\.\d+)?")
_RUN_GAP = re.compile(r"(?:[\s,、;]|and|和|及|与)*")
# Any integer part longer than this is far outside the grid; the fraction beyond this changes no rounding
# that matters (a float holds about 17 digits).
_MAX_WHOLE_DIGITS = 6
_MAX_FRACTION_DIGITS = 20
# Naming a bare box list by the words before it: where those words start, what is not part of them,
# and endings that show a sentence rather than a name.
_NAME_STOPS = set("。！？；;:，,、.!?()（）<>\"“”\n")
_NAME_LEAD = set(" \t-*•")
_NAME_CONNECTOR = re.compile(r"(?:(?:and|or)\b|以及|和|及|与)\s*", re.IGNORECASE)
_PROSE_ENDING = re.compile(
    r"(?:\b(?:at|in|on|of|is|are|was|were|located|seen|see|shows?|the|a|an|with|by|near|within)|位于|在|见|于|为|是)\s*$",
    re.IGNORECASE,
)
_MAX_NAME_CHARS = 40
_MAX_NAME_WORDS = 6
_COLON = re.compile(r"[ \t]*:")
_DESCRIPTION_TRIM = " \t\r\n,;、，；"


class IssueKind(str, Enum):
    """What the parser repaired or dropped."""

    CLAMPED = "clamped"
    REORDERED = "reordered"
    ROUNDED = "rounded"
    ZERO_AREA = "zero-area"
    MALFORMED = "malformed"
    UNCLOSED = "unclosed"
    NAME_WITHOUT_BOX = "name-without-box"


ISSUE_MESSAGES: dict[IssueKind, str] = {
    IssueKind.CLAMPED: N_("A coordinate in {text} was outside 0 to 999 and was clamped."),
    IssueKind.REORDERED: N_("The corners of {text} were inverted and were put in order."),
    IssueKind.ROUNDED: N_("The box {text} had decimals; they were rounded."),
    IssueKind.ZERO_AREA: N_("The box {text} has no area and was dropped."),
    IssueKind.MALFORMED: N_("{text} is not a box of four numbers and was dropped."),
    IssueKind.UNCLOSED: N_("The answer stops inside a box list; the incomplete part {text} was dropped."),
    IssueKind.NAME_WITHOUT_BOX: N_("The name {text} has no box."),
}


@dataclass(frozen=True)
class ParseIssue:
    """One repair or omission, located in the original text."""

    kind: IssueKind
    span: Span
    text: str

    def localized(self, lang: str) -> str:
        return translate(ISSUE_MESSAGES[self.kind], lang, text=self.text)


@dataclass
class Region:
    """One named object of the answer with all its boxes.

    Attributes
    ----------
    name:
        The text inside ``<ref>``, or None for boxes without a name.
    boxes:
        Valid boxes on the 0..999 grid (corners ordered, area > 0), in answer order.
    description:
        Text after ``:``/``：`` following the region's group(s), or None.
    name_spans, box_spans, description_spans:
        Offsets into the original answer of each mention of the name, each box list
        (``<box>...</box>`` or bare ``[[...]]``) and each description.
    """

    name: str | None
    boxes: list[ModelBox]
    description: str | None
    name_spans: list[Span]
    box_spans: list[Span]
    description_spans: list[Span] = field(default_factory=list)

    def pixel_boxes(self, width: float, height: float) -> list[PixelBox]:
        """The boxes in picture pixels of a ``width x height`` picture."""
        return [to_pixels(box, width, height) for box in self.boxes]


@dataclass(frozen=True)
class ParsedAnswer:
    """The regions of an answer, the answer itself and what had to be repaired."""

    text: str
    regions: list[Region]
    issues: list[ParseIssue]

    @property
    def boxes(self) -> list[ModelBox]:
        return [box for region in self.regions for box in region.boxes]


@dataclass
class _Ref:
    name: str
    name_span: Span
    span: Span


@dataclass
class _BoxList:
    boxes: list[ModelBox]
    span: Span
    tagged: bool = False


@dataclass
class _Group:
    ref: _Ref | None
    box_list: _BoxList
    description: tuple[str, Span] | None = None

    @property
    def span(self) -> Span:
        return (self.ref.span[0] if self.ref else self.box_list.span[0], self.box_list.span[1])


class _Scanner:
    """Left-to-right tokeniser over the normalised text; collects issues as it goes."""

    def __init__(self, original: str) -> None:
        self.original = original
        self.text = original.translate(_FULL_WIDTH)
        self.issues: list[ParseIssue] = []

    def issue(self, kind: IssueKind, span: Span) -> None:
        self.issues.append(ParseIssue(kind, span, self.original[span[0] : span[1]].strip()))

    def tokens(self) -> list[_Ref | _BoxList]:
        found: list[_Ref | _BoxList] = []
        pos = 0
        while match := _TOKEN.search(self.text, pos):
            if match.group() == "<ref>":
                ref, pos = self._ref(match.start(), match.end())
                found.append(ref)
                continue
            list_start = match.start() if match.group() != "<box>" else self._skip_blanks(match.end())
            if list_start >= len(self.text) or self.text[list_start] != "[":
                self.issue(IssueKind.MALFORMED, (match.start(), match.end()))
                pos = match.end()
                continue
            box_list, pos = self._box_list(match.start(), list_start, tagged=match.group() == "<box>")
            found.append(box_list)
        return found

    def _skip_blanks(self, pos: int) -> int:
        while pos < len(self.text) and self.text[pos] in " \t":
            pos += 1
        return pos

    def _ref(self, start: int, name_start: int) -> tuple[_Ref, int]:
        close = self.text.find("</ref>", name_start)
        stops = [i for i in (self.text.find("<ref>", name_start), self.text.find("<box>", name_start),
                             self.text.find("\n", name_start)) if i >= 0]
        nearest_stop = min(stops, default=len(self.text))
        name_end, end = (close, close + len("</ref>")) if 0 <= close <= nearest_stop else (nearest_stop, nearest_stop)
        raw = self.original[name_start:name_end]
        lead = len(raw) - len(raw.lstrip())
        name = raw.strip()
        span = (name_start + lead, name_start + lead + len(name))
        return _Ref(name, span, (start, end)), end

    def _box_list(self, start: int, list_start: int, *, tagged: bool) -> tuple[_BoxList, int]:
        quads, end, closed = self._scan_brackets(list_start)
        if tagged:
            after = self._skip_blanks(end)
            if self.text.startswith("</box>", after):
                end = after + len("</box>")
        boxes = [box for content, span in quads if (box := self._quad(content, span)) is not None]
        if not closed:
            self.issue(IssueKind.UNCLOSED, (start, end))
        return _BoxList(boxes, (start, end), tagged), end

    def _scan_brackets(self, pos: int) -> tuple[list[tuple[str, Span]], int, bool]:
        """Innermost ``[...]`` contents of a bracket list starting at ``pos``; stops at a foreign character."""
        depth, inner_start, quads = 0, None, []
        while pos < len(self.text) and self.text[pos] in _LIST_CHARS:
            char = self.text[pos]
            if char == "[":
                depth, inner_start = depth + 1, pos + 1
            elif char == "]":
                if inner_start is not None:
                    quads.append((self.text[inner_start:pos], (inner_start - 1, pos + 1)))
                    inner_start = None
                depth -= 1
                if depth == 0:
                    return quads, pos + 1, True
            pos += 1
        return quads, pos, False

    def _quad(self, content: str, span: Span) -> ModelBox | None:
        parts = [part.strip() for part in content.split(",")]
        if len(parts) != 4 or not all(_NUMBER.fullmatch(part) for part in parts):
            self.issue(IssueKind.MALFORMED, span)
            return None
        values = [_bounded_number(part) for part in parts]
        if any(not v.is_integer() for v in values):
            self.issue(IssueKind.ROUNDED, span)
        rounded = [math.floor(v + 0.5) for v in values]
        clamped = [min(MODEL_GRID_MAX, max(0, v)) for v in rounded]
        if clamped != rounded:
            self.issue(IssueKind.CLAMPED, span)
        x1, y1, x2, y2 = clamped
        if x1 > x2 or y1 > y2:
            self.issue(IssueKind.REORDERED, span)
            x1, x2, y1, y2 = min(x1, x2), max(x1, x2), min(y1, y2), max(y1, y2)
        if x1 == x2 or y1 == y2:
            self.issue(IssueKind.ZERO_AREA, span)
            return None
        return ModelBox(x1, y1, x2, y2)


def _bounded_number(text: str) -> float:
    """A number of :data:`_NUMBER` as a float that stays finite whatever its digits: integer parts
    beyond the grid are capped (they are clamped to 0..999 anyway), leading zeros do not count."""
    sign, digits = ("-", text[1:]) if text[0] in "+-" else ("", text)
    whole, _, fraction = digits.partition(".")
    whole = whole.lstrip("0") or "0"
    if len(whole) > _MAX_WHOLE_DIGITS:
        whole, fraction = "9" * _MAX_WHOLE_DIGITS, ""
    return float(f"{sign}{whole}.{fraction[:_MAX_FRACTION_DIGITS] or '0'}")


def _name_before(scanner: _Scanner, start: int, floor: int) -> _Ref | None:
    """The name of a bare ``[[...]]`` list without ``<ref>``: the words right before it, back to the
    previous token or clause mark (``胰腺癌[[...]]``, ``left lung [[...]]``); None when they are prose
    (``is located in [[...]]``) or too long to be a name."""
    text = scanner.text
    begin = start
    while begin > floor and text[begin - 1] not in _NAME_STOPS:
        begin -= 1
    while begin < start and text[begin] in _NAME_LEAD:
        begin += 1
    if connector := _NAME_CONNECTOR.match(text, begin, start):
        begin = connector.end()
    end = start
    while end > begin and text[end - 1].isspace():
        end -= 1
    name = scanner.original[begin:end]
    if not name or _PROSE_ENDING.search(name) or len(name) > _MAX_NAME_CHARS or len(name.split()) > _MAX_NAME_WORDS:
        return None
    return _Ref(name, (begin, end), (begin, end))


def _groups(scanner: _Scanner, tokens: list[_Ref | _BoxList]) -> tuple[list[_Group], list[_Ref]]:
    """Pair each box list with the latest name before it (for a bare list without one, the words
    right before it); names left without a box are orphans."""
    groups: list[_Group] = []
    orphans: list[_Ref] = []
    pending: _Ref | None = None
    previous_end = 0
    for token in tokens:
        if isinstance(token, _Ref):
            if pending is not None:
                orphans.append(pending)
            pending = token
        else:
            if pending is None and not token.tagged:
                pending = _name_before(scanner, token.span[0], previous_end)
            groups.append(_Group(pending, token))
            pending = None
        previous_end = token.span[1]
    if pending is not None:
        orphans.append(pending)
    return groups, orphans


def _attach_descriptions(scanner: _Scanner, groups: list[_Group]) -> None:
    """Give the text after a ``:`` to every group of the run of groups just before it."""
    text, run_start = scanner.text, 0
    for index, group in enumerate(groups):
        following = groups[index + 1] if index + 1 < len(groups) else None
        end = group.span[1]
        if following is not None and _RUN_GAP.fullmatch(text, end, following.span[0]):
            continue  # the run goes on
        colon = _COLON.match(text, end)
        if colon:
            stop = following.span[0] if following else len(text)
            description = _trimmed(scanner.original, colon.end(), stop)
            if description is not None:
                for member in groups[run_start : index + 1]:
                    member.description = description
        run_start = index + 1


def _trimmed(text: str, start: int, stop: int) -> tuple[str, Span] | None:
    while start < stop and text[start] in _DESCRIPTION_TRIM:
        start += 1
    while stop > start and text[stop - 1] in _DESCRIPTION_TRIM:
        stop -= 1
    return (text[start:stop], (start, stop)) if stop > start else None


def _regions(groups: list[_Group], orphans: list[_Ref], scanner: _Scanner) -> list[Region]:
    """One region per distinct name (case-insensitive), one per unnamed box list."""
    by_name: dict[str, Region] = {}
    regions: list[Region] = []
    for group in groups:
        if not group.box_list.boxes:
            continue
        key = group.ref.name.casefold() if group.ref else None
        region = by_name.get(key) if key is not None else None
        if region is None:
            region = Region(group.ref.name if group.ref else None, [], None, [], [])
            regions.append(region)
            if key is not None:
                by_name[key] = region
        region.boxes.extend(group.box_list.boxes)
        region.box_spans.append(group.box_list.span)
        if group.ref:
            region.name_spans.append(group.ref.name_span)
        if group.description and group.description[1] not in region.description_spans:
            region.description_spans.append(group.description[1])
            region.description = "\n".join(filter(None, (region.description, group.description[0])))
    for ref in orphans:
        region = by_name.get(ref.name.casefold())
        if region is not None:
            region.name_spans.append(ref.name_span)
        elif ref.name:
            scanner.issue(IssueKind.NAME_WITHOUT_BOX, ref.name_span)
    for region in regions:
        region.name_spans.sort()
    return regions


def parse_answer(text: str) -> ParsedAnswer:
    """Parse a MedRegA answer into regions; never raises (odd input shows up in ``.issues``).

    Parameters
    ----------
    text:
        The model's answer, exactly as decoded.
    """
    scanner = _Scanner(text if isinstance(text, str) else "")
    groups, orphans = _groups(scanner, scanner.tokens())
    _attach_descriptions(scanner, groups)
    regions = _regions(groups, orphans, scanner)
    issues = sorted(scanner.issues, key=lambda issue: issue.span)
    return ParsedAnswer(text=scanner.original, regions=regions, issues=issues)
