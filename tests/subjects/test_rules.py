import numpy as np
import pytest

from prefstudy.errors import PrefstudyError
from prefstudy.subjects.regions import NAMED_REGIONS, parse_region, pixel_bounds, region_share
from prefstudy.subjects.rules import ClassRule, FeatureRule, parse_rule

CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def test_class_rules_take_names_in_any_case_and_indices():
    assert parse_rule("classes:sneaker,Bag,3", CLASSES) == ClassRule(("Sneaker", "Bag", "Dress"))


def test_class_rule_prefers_exactly_its_classes():
    rule = parse_rule("classes:Trouser,Bag", CLASSES)
    items = np.array(["Trouser", "Coat", "Bag", "Bag", "Shirt"], dtype=object)
    assert rule.preferred(np.zeros((5, 2, 2, 1), np.uint8), items).tolist() == [True, False, True, True, False]


def test_feature_rules_with_and_without_region():
    assert parse_rule("feature:contrast", CLASSES) == FeatureRule("contrast")
    assert parse_rule("feature:Edges@top-left", CLASSES) == FeatureRule("edges", (0.0, 0.0, 0.5, 0.5))
    assert parse_rule("feature:colorfulness@0.1,0.2,0.3,0.4", CLASSES).region == (0.1, 0.2, 0.3, 0.4)


def test_feature_rule_splits_at_the_median():
    brightness = np.array([10, 200, 50, 120, 90], dtype=np.uint8)
    images = np.broadcast_to(brightness[:, None, None, None], (5, 4, 4, 1)).copy()
    assert FeatureRule("brightness").preferred(images, np.array([None] * 5)).tolist() == [
        False,
        True,
        False,
        True,
        False,
    ]


def test_a_constant_feature_is_refused():
    gray = np.full((4, 3, 3, 1), 7, dtype=np.uint8)
    with pytest.raises(PrefstudyError, match="same for every image"):
        FeatureRule("colourfulness").preferred(gray, np.array([None] * 4))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("sneakers", "invalid rule"),
        ("classes:Hat", "unknown class 'Hat'"),
        ("feature:beauty", "unknown feature 'beauty'"),
        ("feature:edges@middle", "unknown region 'middle'"),
        ("feature:edges@0.5,0,0.2,1", "must satisfy"),
        ("colour:red", "unknown rule kind 'colour'"),
        ("classes:" + ",".join(CLASSES), "prefers everything"),
    ],
)
def test_bad_rules_are_clear_errors(text, message):
    with pytest.raises(PrefstudyError, match=message):
        parse_rule(text, CLASSES)


def test_regions_cover_what_they_say():
    assert parse_region("top") == (0.0, 0.0, 1.0, 0.5)
    assert region_share(NAMED_REGIONS["center"]) == 0.25
    assert pixel_bounds(NAMED_REGIONS["top-left"], 28, 28) == (0, 14, 0, 14)
    assert pixel_bounds((0.0, 0.0, 0.01, 0.01), 28, 28) == (0, 1, 0, 1)  # at least one pixel
