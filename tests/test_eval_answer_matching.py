"""Answer extraction / matching of multiple-choice QA against a table of tricky model outputs."""

import pytest

from evaluation.metrics.answer_matching import (
    extract_mmau_answer,
    match_mmau_answer,
    parse_mmsu_choice,
    parse_speechmmlu_option,
    strip_thinking,
)

CHOICES = ["Dog barking", "Cat meowing", "Bird singing", "Car horn"]


@pytest.mark.parametrize(
    "response, thinking, extracted, correct",
    [
        ("Dog barking", False, "Dog barking", True),
        ("  dog barking.", False, "dog barking", True),
        ("The correct answer is: Dog barking.", False, "Dog barking", True),
        ("**Dog barking**", False, "Dog barking", True),
        ("`Dog barking`", False, "Dog barking", True),
        ('"Dog barking"', False, "Dog barking", True),
        ("Answer: **Cat meowing**", False, "Cat meowing", False),
        ("Correct answer is:\n**Dog barking**", False, "Dog barking", True),  # empty tail -> bold after marker
        ("Answer -\n\nDog barking\nbecause it barks", False, "Dog barking", True),  # empty tail -> next line
        ("Answer: Cat meowing\nAnswer: Dog barking", False, "Dog barking", True),  # last candidate wins
        ("It is **Cat meowing**, not **Dog barking**", False, "Dog barking", True),  # last bold span
        ("I think it's a dog barking, not a cat meowing", False, "I think it's a dog barking, not a cat meowing", False),
        ("The answer is\n\nDog barking", False, "The answer is", False),  # no marker (no colon): first line
        ("dog", False, "dog", False),  # answer tokens must all appear
        ("A. Dog barking", False, "A. Dog barking", True),  # extra tokens are fine if not from wrong choices
        ("<think>cat meowing?</think>\nDog barking", True, "Dog barking", True),
        ("<think>cat meowing?</think>\nDog barking", False, "<think>cat meowing?</think>", False),
        ("", False, "", False),
    ],
)
def test_mmau_extraction_and_matching(response, thinking, extracted, correct):
    prediction = extract_mmau_answer(strip_thinking(response, thinking))
    assert prediction == extracted
    assert match_mmau_answer("Dog barking", prediction, CHOICES) is correct


def test_mmau_answer_contained_in_another_choice():
    choices = ["Piano", "Grand piano"]
    assert match_mmau_answer("Piano", "piano", choices)
    assert not match_mmau_answer("Piano", "Grand piano", choices)  # 'grand' distinguishes the wrong choice
    assert match_mmau_answer("Grand piano", "grand piano", choices)


@pytest.mark.parametrize(
    "response, thinking, letter",
    [
        ("B", False, "B"),
        ("B. sad", False, "B"),
        ("\nD\n", False, "D"),
        ("The answer is (C)", False, "C"),  # second-to-last character
        ("I choose B.", False, "B"),
        ("Absolutely D", False, "A"),  # upstream quirk: the first character wins
        ("answer: a", False, None),  # lower case letters do not count
        ("None", False, None),
        ("", False, None),
        ("<think>A or B</think>C", True, "C"),
    ],
)
def test_mmsu_choice(response, thinking, letter):
    assert parse_mmsu_choice(response, thinking=thinking) == letter


@pytest.mark.parametrize(
    "output, lang, index",
    [
        ("The answer is option B.", "en", 1),
        ("Option  c", "en", 2),
        ("optionD", "en", 3),
        ("options a", "en", -1),  # 'options' is not followed by a letter a-d
        ("option e, then option a", "en", 0),  # first valid match
        ("I pick B", "en", -1),
        ("答案是选项 C", "zh", 2),
        ("答案是C", "zh", -1),
    ],
)
def test_speechmmlu_option(output, lang, index):
    assert parse_speechmmlu_option(output, lang) == index


def test_speechmmlu_language_check():
    with pytest.raises(ValueError, match="lang"):
        parse_speechmmlu_option("option a", "fr")
