"""The answer parser: published answers, every odd case of spec B.6, and properties (hypothesis)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tasks_spec_strings import DEMO_ANSWERS

from medrega_core.tasks import IssueKind, ModelBox, parse_answer


def _names_in_text(parsed) -> list[list[str]]:
    return [[parsed.text[a:b] for a, b in region.name_spans] for region in parsed.regions]


class TestPublishedAnswers:
    def test_grounded_report_two_lungs_share_one_description(self) -> None:
        parsed = parse_answer(DEMO_ANSWERS["grounded_report"])
        right, left = parsed.regions
        assert (right.name, right.boxes) == ("right lung", [ModelBox(102, 106, 481, 910)])
        assert (left.name, left.boxes) == ("left lung", [ModelBox(535, 128, 923, 889)])
        assert right.description == left.description
        assert right.description.startswith("No focal consolidation") and right.description.endswith("process")
        assert _names_in_text(parsed) == [["right lung"], ["left lung"]]
        assert parsed.issues == []

    def test_carotid_one_object_two_boxes(self) -> None:
        (region,) = parse_answer(DEMO_ANSWERS["text_to_region"]).regions
        assert region.boxes == [ModelBox(365, 293, 416, 598), ModelBox(596, 316, 635, 464)]
        assert region.description is None

    def test_chinese_lesion_with_full_width_colon(self) -> None:
        parsed = parse_answer(DEMO_ANSWERS["locate_describe"])
        (region,) = parsed.regions
        assert region.name == "胰腺癌" and region.boxes == [ModelBox(661, 528, 743, 599)]
        assert region.description.startswith("胰尾部见一稍低密度肿块") and region.description.endswith("胰腺癌可能性大。")
        start, end = region.description_spans[0]
        assert parsed.text[start:end] == region.description

    @pytest.mark.parametrize(
        ("answer", "name", "boxes"),
        [
            ("<ref>Vestibular schwannoma</ref> is located in <box>[[376, 556, 479, 651]]</box>", "Vestibular schwannoma",
             [ModelBox(376, 556, 479, 651)]),
            ("The region of <ref>brain tumor</ref> is <box>[[284, 335, 417, 409], [464, 308, 792, 772]]</box>",
             "brain tumor", [ModelBox(284, 335, 417, 409), ModelBox(464, 308, 792, 772)]),
            ("<ref>左肾</ref><box>[[[636, 521, 755, 630]]]</box>：左肾形态正常。", "左肾", [ModelBox(636, 521, 755, 630)]),
        ],
    )
    def test_paper_figure_answers(self, answer, name, boxes) -> None:
        (region,) = parse_answer(answer).regions
        assert (region.name, region.boxes) == (name, boxes)

    def test_multi_object_multi_region(self) -> None:
        answer = ("<ref>stomach</ref><box>[[376, 657, 503, 731], [260, 429, 418, 675]]</box>, <ref>liver</ref>"
                  "<box>[[460, 327, 854, 763]]</box>, <ref>colon</ref><box>[[277, 696, 341, 742], [383, 752, 464, 794]]</box>")
        regions = parse_answer(answer).regions
        assert [r.name for r in regions] == ["stomach", "liver", "colon"]
        assert [len(r.boxes) for r in regions] == [2, 1, 2]


class TestOddAnswers:
    def test_full_width_digits_commas_brackets_and_colon(self) -> None:
        parsed = parse_answer("<ref>肝脏</ref><box>［［１２，３４，５６，７８］］</box>：肝脏增大，密度均匀。")
        (region,) = parsed.regions
        assert region.boxes == [ModelBox(12, 34, 56, 78)]
        assert region.description == "肝脏增大，密度均匀。"  # the original full-width commas are kept

    def test_boxes_without_ref(self) -> None:
        parsed = parse_answer("There are lesions at [[10, 20, 30, 40]] and <box>[[50, 60, 70, 80]]</box>.")
        assert [r.name for r in parsed.regions] == [None, None]
        assert parsed.boxes == [ModelBox(10, 20, 30, 40), ModelBox(50, 60, 70, 80)]

    def test_groups_on_separate_lines_each_with_a_description(self) -> None:
        answer = ("<ref>left lung</ref><box>[[535, 128, 923, 889]]</box>: Clear.\n"
                  "<ref>cardiac silhouette</ref><box>[[400, 500, 700, 800]]</box>: Enlarged.")
        lung, heart = parse_answer(answer).regions
        assert (lung.description, heart.description) == ("Clear.", "Enlarged.")

    def test_chinese_comma_separated_groups_share_a_description(self) -> None:
        answer = "<ref>左肾</ref><box>[[1, 2, 3, 4]]</box>，<ref>右肾</ref><box>[[5, 6, 7, 8]]</box>：双肾未见异常。"
        left, right = parse_answer(answer).regions
        assert left.description == right.description == "双肾未见异常。"

    def test_repeated_name_is_one_region(self) -> None:
        parsed = parse_answer("<ref>Nodule</ref><box>[[1, 2, 3, 4]]</box>, <ref>nodule</ref><box>[[5, 6, 7, 8]]</box>")
        (region,) = parsed.regions
        assert region.boxes == [ModelBox(1, 2, 3, 4), ModelBox(5, 6, 7, 8)] and len(region.name_spans) == 2

    def test_out_of_range_inverted_zero_area_and_decimals(self) -> None:
        parsed = parse_answer("<ref>a</ref><box>[[1200, 30, 20, -4], [5, 5, 5, 90], [1.5, 2, 30.4, 40]]</box>")
        (region,) = parsed.regions
        assert region.boxes == [ModelBox(20, 0, 999, 30), ModelBox(2, 2, 30, 40)]
        kinds = [issue.kind for issue in parsed.issues]
        assert kinds == [IssueKind.CLAMPED, IssueKind.REORDERED, IssueKind.ZERO_AREA, IssueKind.ROUNDED]

    def test_unclosed_box_keeps_complete_quadruples(self) -> None:
        parsed = parse_answer("<ref>brain tumor</ref><box>[[284, 335, 417, 409], [464, 30")
        (region,) = parsed.regions
        assert region.boxes == [ModelBox(284, 335, 417, 409)]
        assert [issue.kind for issue in parsed.issues] == [IssueKind.UNCLOSED]

    def test_missing_closing_box_tag_is_harmless(self) -> None:
        (region,) = parse_answer("<ref>liver</ref><box>[[460, 327, 854, 763]]").regions
        assert region.boxes == [ModelBox(460, 327, 854, 763)]

    def test_malformed_quadruple_and_name_without_box(self) -> None:
        parsed = parse_answer("<ref>spleen</ref><box>[[1, 2, 3]]</box> and <ref>kidney</ref> is normal")
        assert parsed.regions == []
        assert {issue.kind for issue in parsed.issues} == {IssueKind.MALFORMED, IssueKind.NAME_WITHOUT_BOX}
        assert all(issue.localized("zh") != issue.localized("en") for issue in parsed.issues)

    def test_later_mention_of_a_name_is_coloured_too(self) -> None:
        parsed = parse_answer("<ref>liver</ref><box>[[1, 2, 30, 40]]</box>: the <ref>liver</ref> is enlarged")
        assert _names_in_text(parsed) == [["liver", "liver"]]

    @pytest.mark.parametrize("position", range(4))
    def test_a_number_of_hundreds_of_digits_is_clamped_not_raised(self, position: int) -> None:
        values = ["1", "2", "3", "4"]
        values[position] = "9" * 400
        parsed = parse_answer(f"<ref>x</ref><box>[[{', '.join(values)}]]</box>")
        assert IssueKind.CLAMPED in {issue.kind for issue in parsed.issues}
        assert all(0 <= v <= 999 for box in parsed.boxes for v in box.as_tuple())

    def test_leading_zeros_and_long_decimals_are_read_as_numbers(self) -> None:
        zeros = "0" * 500
        parsed = parse_answer(f"<ref>x</ref><box>[[{zeros}10, 20.{'0' * 400}, -{zeros}5, 40.{'4' * 300}]]</box>")
        assert parsed.boxes == [ModelBox(0, 20, 10, 40)]  # -5 clamped to 0, corners put in order

    def test_plain_answers_have_no_regions_and_no_issues(self) -> None:
        for text in ("heart", "胸腔", "", "Findings: [unclear] normal study."):
            parsed = parse_answer(text)
            assert (parsed.regions, parsed.issues) == ([], [])


# ---------------------------------------------------------------- properties
names = st.text(
    alphabet=st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJ -'肝肾胰腺癌左右肺"), min_size=1, max_size=20
).map(str.strip).filter(bool)
coords = st.integers(0, 999)


@st.composite
def boxes(draw):
    x1, x2 = sorted(draw(st.lists(coords, min_size=2, max_size=2, unique=True)))
    y1, y2 = sorted(draw(st.lists(coords, min_size=2, max_size=2, unique=True)))
    return ModelBox(x1, y1, x2, y2)


FULL = str.maketrans({str(d): chr(0xFF10 + d) for d in range(10)} | {",": "，", "[": "［", "]": "］"})


@st.composite
def answers(draw):
    """A well-formed answer: regions with unique names, separators, optional full width, descriptions."""
    region_names = draw(st.lists(names, min_size=1, max_size=5, unique_by=str.casefold))
    expected, parts = [], []
    for name in region_names:
        region_boxes = draw(st.lists(boxes(), min_size=1, max_size=3))
        listing = "[" + ", ".join(b.as_text() for b in region_boxes) + "]"
        if draw(st.booleans()):
            listing = listing.translate(FULL)
        glue = draw(st.sampled_from(["", "", " is located in ", " 位于 "]))
        group = f"<ref>{name}</ref>{glue}<box>{listing}</box>"
        description = draw(st.one_of(st.none(), st.sampled_from(["Normal.", "未见异常。", "Mild, patchy opacity"])))
        if description:
            group += draw(st.sampled_from([": ", "：", ":"])) + description
        parts.append(group)
        expected.append((name, region_boxes, description))
    separator = draw(st.sampled_from([", ", "，", "\n", "、"]))
    return separator.join(parts), _shared_descriptions(expected)


def _shared_descriptions(expected):
    """Groups joined only by separators form a run: a description belongs to every group of its run."""
    shared, run = [], []
    for name, region_boxes, description in expected:
        run.append((name, region_boxes))
        if description:
            shared += [(n, b, description) for n, b in run]
            run = []
    return shared + [(n, b, None) for n, b in run]


class TestBareBoxes:
    """MedRegA's Chinese grounded reports write ``name[[...]]`` without tags (MedRegA issue #1)."""

    def test_chinese_bare_box_takes_the_words_before_it_as_name(self) -> None:
        answer = "胰腺癌[[690, 472, 735, 511]]：胰尾部见一稍低密度肿块，边界不清。"
        parsed = parse_answer(answer)
        (region,) = parsed.regions
        assert (region.name, region.boxes) == ("胰腺癌", [ModelBox(690, 472, 735, 511)])
        assert _names_in_text(parsed) == [["胰腺癌"]]
        assert region.description == "胰尾部见一稍低密度肿块，边界不清。"

    def test_several_chinese_bare_boxes_in_sentences(self) -> None:
        answer = "右肺[[102, 106, 481, 910]]、左肺[[535, 128, 923, 889]]：双肺纹理清晰。\n心脏[[400, 500, 700, 800]]：心影增大。"
        parsed = parse_answer(answer)
        assert [r.name for r in parsed.regions] == ["右肺", "左肺", "心脏"]
        assert _names_in_text(parsed) == [["右肺"], ["左肺"], ["心脏"]]
        assert [r.description for r in parsed.regions] == ["双肺纹理清晰。", "双肺纹理清晰。", "心影增大。"]

    def test_english_bare_boxes(self) -> None:
        answer = "right lung [[102, 106, 481, 910]] and left lung [[535, 128, 923, 889]]: Clear.\nHeart[[1, 2, 30, 40]]: Normal."
        parsed = parse_answer(answer)
        assert [r.name for r in parsed.regions] == ["right lung", "left lung", "Heart"]
        assert _names_in_text(parsed) == [["right lung"], ["left lung"], ["Heart"]]
        assert [r.description for r in parsed.regions] == ["Clear.", "Clear.", "Normal."]

    def test_a_bare_box_after_a_name_tag_keeps_the_tag_name(self) -> None:
        (region,) = parse_answer("这是<ref>左肾</ref>[[1, 2, 30, 40]]").regions
        assert region.name == "左肾"

    def test_prose_before_a_box_is_no_name(self) -> None:
        parsed = parse_answer("The lesion is located in [[10, 20, 30, 40]].")
        assert [r.name for r in parsed.regions] == [None]


class TestProperties:
    @given(st.lists(st.text(alphabet="0123456789", min_size=1, max_size=4)
                    | st.text(alphabet="0123456789", min_size=300, max_size=500), min_size=4, max_size=4),
           st.lists(st.sampled_from(["", "-", "+", "000"]), min_size=4, max_size=4))
    def test_never_raises_whatever_the_digits(self, digits: list[str], signs: list[str]) -> None:
        values = ", ".join(sign + number for sign, number in zip(signs, digits))
        for text in (f"<ref>x</ref><box>[[{values}]]</box>", f"肿块[[{values}]]：", f"[[{values}]"):
            for box in parse_answer(text).boxes:
                assert 0 <= box.x1 < box.x2 <= 999 and 0 <= box.y1 < box.y2 <= 999


    @given(st.text(max_size=300))
    def test_never_raises_on_any_text(self, text: str) -> None:
        parsed = parse_answer(text)
        assert all(0 <= a <= b <= len(text) for r in parsed.regions for a, b in r.name_spans + r.box_spans)

    @given(st.text(alphabet=st.sampled_from(list("<>[]/refbox,，：:0123456789 -.\n１２［］")), max_size=200))
    def test_never_raises_on_tag_soup_and_boxes_are_valid(self, text: str) -> None:
        for box in parse_answer(text).boxes:
            assert 0 <= box.x1 < box.x2 <= 999 and 0 <= box.y1 < box.y2 <= 999

    @settings(max_examples=100)
    @given(answers())
    def test_generated_answers_parse_back(self, case) -> None:
        text, expected = case
        parsed = parse_answer(text)
        assert [(r.name, r.boxes) for r in parsed.regions] == [(name, bxs) for name, bxs, _ in expected]
        assert [r.description for r in parsed.regions] == [d.strip() if d else None for _, _, d in expected]
        assert _names_in_text(parsed) == [[name] for name, _, _ in expected]
        assert parsed.issues == []

    @settings(max_examples=100)
    @given(answers(), st.data())
    def test_any_truncation_keeps_only_real_boxes(self, case, data) -> None:
        text, expected = case
        cut = data.draw(st.integers(0, len(text)))
        real = {box for _, region_boxes, _ in expected for box in region_boxes}
        assert set(parse_answer(text[:cut]).boxes) <= real
