"""go_bexpr: the subset of go-bexpr that Nomad's `?filter=` takes, parsed and evaluated as upstream
does (grammar.peg, evaluate.go), with Nomad's paginator texts around its errors."""

from __future__ import annotations

import pytest

from nomad_iis_sandbox.go_bexpr import (
    FilterEvalError,
    FilterSyntaxError,
    Match,
    Selector,
    compile_filter,
    evaluate,
    filter_list,
    go_unquote,
)

NODE = {
    "ID": "2d2b8b75-cf4b-418a-9757-5d911622abc0",
    "Name": "win-node-1",
    "Datacenter": "dc1",
    "NodePool": "windows",
    "NodeClass": "",
    "Status": "ready",
    "CreateIndex": 12,
    "Drain": False,
    "Attributes": {"kernel.name": "windows", "driver.iis": "1", "driver.iis.management_api_port": "5004"},
    "Meta": {"rack": "r1", "env": "prod"},
    "Drivers": {"iis": {"Detected": True, "Healthy": True, "Attributes": {}},
                "raw_exec": {"Detected": False, "Healthy": False, "Attributes": {}}},
    "HostVolumes": None,
    "Links": {},
    "Events": [{"Message": "Node registered"}],
    "Tags": ["web", "iis"],
    "Weights": [1, 2, 3],
}


def matches(expression, datum=None):
    return evaluate(compile_filter(expression), NODE if datum is None else datum)


@pytest.mark.parametrize("expression, expected", [
    # equality on strings, with either quote and a bare word (a selector in value position is its text)
    ('Datacenter == "dc1"', True),
    ("Datacenter == `dc1`", True),
    ("Datacenter == dc1", True),
    ('Datacenter != "dc1"', False),
    ('Name == "win-node-2"', False),
    # the examples of Nomad's docs and tests
    ('Attributes["kernel.name"] == "windows"', True),
    ('Datacenter == "dc1" and Attributes["kernel.name"] == "windows"', True),
    ('Meta["rack"] == "r1"', True),
    ('Meta.rack == "r1"', True),
    ('"/Meta/rack" == "r1"', True),
    # booleans and numbers are compared after coercing the value, as strconv parses it
    ("Drivers.iis.Healthy == true", True),
    ("Drivers.iis.Healthy == T", True),
    ("Drivers.raw_exec.Detected == false", True),
    ("Drain != true", True),
    ("CreateIndex == 12", True),
    # in / contains: map keys, list elements, substrings
    ('"iis" in Drivers', True),
    ('"docker" in Drivers', False),
    ('"docker" not in Drivers', True),
    ('Drivers contains "iis"', True),
    ('Drivers not contains "iis"', False),
    ('"web" in Tags', True),
    ('"2" in Weights', True),
    ('Name contains "node"', True),
    ('"node" in Name', True),
    # emptiness; JSON null is a nil map
    ("Links is empty", True),
    ("HostVolumes is empty", True),
    ("Meta is not empty", True),
    ("NodeClass is empty", True),
    # regular expressions are unanchored
    ('Name matches "node-[0-9]"', True),
    ('Name matches "^node"', False),
    ('Name not matches "^node"', True),
    # a missing map key: NotPresentDisposition
    ('Meta["missing"] == "x"', False),
    ('Meta["missing"] != "x"', True),
    ('"x" in Meta.missing', False),
    ('"x" not in Meta.missing', True),
    ("Meta.missing is empty", True),
    ("Meta.missing is not empty", False),
    ('Meta.missing matches "x"', False),
    ('Meta.missing not matches "x"', True),
    # list indexes
    ('Events.0.Message == "Node registered"', True),
    # boolean structure and precedence: `or` binds loosest, `not` tightest
    ('Datacenter == "dc2" or Meta.rack == "r1"', True),
    ('not Datacenter == "dc2"', True),
    ('not not Datacenter == "dc1"', True),
    ('Datacenter == "dc2" or Meta.rack == "r1" and Meta.env == "dev"', False),
    ('(Datacenter == "dc2" or Meta.rack == "r1") and Meta.env == "prod"', True),
    ('not (Datacenter == "dc1" and Meta.env == "prod")', False),
    ('  ( Datacenter == "dc1" )  ', True),
    ('Datacenter=="dc1"', True),
    ('Meta.rack == "r1"\n and\tMeta.env == "prod"', True),
])
def test_evaluation(expression, expected):
    assert matches(expression) is expected


def test_the_tree():
    tree = compile_filter('Meta["a.b"] is empty')
    assert tree == Match(Selector(("Meta", "a.b")), "is empty", None)
    assert compile_filter('"a" in Tags') == Match(Selector(("Tags",)), "in", "a")
    assert compile_filter("Tags contains a") == Match(Selector(("Tags",)), "in", "a")
    assert str(Selector(("Meta", "rack"))) == "Meta.rack"
    assert str(Selector(("Meta", "rack"), json_pointer=True)) == "Meta/rack"


@pytest.mark.parametrize("expression, message", [
    ("NotValid", '1:9 (8): no match found, expected: "!=", ".", "==", "[" or [ \\t\\r\\n]'),
    ('Meta.rack == "r1', "1:17 (16): rule string: Unterminated string literal"),
    ("CreateIndex == 5x", "1:17 (16): rule number: Invalid number literal"),
    ('(Datacenter == "dc1"', "1:21 (20): rule grouping: Unmatched parentheses"),
    ('Meta[5] == "x"', "1:6 (5): rule index: Invalid index"),
    ('Meta["rack" == "x"', '1:13 (12): rule index: Unclosed index expression'),
    ('"a" in 5', "1:8 (7): rule match: Invalid selector"),
    ('Meta.rack == "a\\q"', "1:19 (18): rule string: invalid syntax"),
    ("", "1:1 (0): no match found, expected: \"(\", \"\\\"\", \"not\", [ \\t\\r\\n], [a-zA-Z], number or string"),
])
def test_syntax_errors_carry_pigeons_position(expression, message):
    with pytest.raises(FilterSyntaxError) as caught:
        compile_filter(expression)
    assert str(caught.value) == message


def test_positions_count_lines_and_characters():
    with pytest.raises(FilterSyntaxError) as caught:
        compile_filter('Meta.rack == "é" and\n  Bogus')
    assert str(caught.value).startswith("2:8 (29): no match found")


@pytest.mark.parametrize("expression, message", [
    ('Bogus == "x"', 'error finding value in datum: /Bogus at part 0: couldn\'t find struct field with name "Bogus"'),
    ("Drivers.docker.Healthy == true",
     'error finding value in datum: /Drivers/docker/Healthy at part 1: couldn\'t find key "docker"'),
    ('Events.5.Message == "x"', "error finding value in datum: /Events/5/Message at part 1: index 5 is out of range (length = 1)"),
    ('Name.first == "x"', "error finding value in datum: /Name/first: at part 1, invalid kind: string"),
    ("Drivers.iis.Healthy == maybe", 'error getting match value in expression: strconv.ParseBool: parsing "maybe": invalid syntax'),
    ('Meta == "x"', "unable to find suitable primitive comparison function for matching"),
    ('"x" in CreateIndex', 'Cannot perform in/contains operations on type int64 for selector: "CreateIndex"'),
    ('CreateIndex matches "1"', "Value of type int64 is not convertible to []byte"),
    ('Name matches "("', 'Failed to compile regular expression "(": missing ), unterminated subpattern at position 0'),
])
def test_evaluation_errors(expression, message):
    with pytest.raises(FilterEvalError) as caught:
        matches(expression)
    assert str(caught.value) == message


def test_and_or_short_circuit_as_upstream():
    # The right side is never looked at, so its unknown field is no error.
    assert matches('Datacenter == "dc1" or Bogus == "x"') is True
    assert matches('Datacenter == "dc2" and Bogus == "x"') is False


def test_filter_list_wraps_errors_as_nomads_paginator():
    items = [dict(NODE, Name="a"), dict(NODE, Name="b", Datacenter="dc2")]
    assert filter_list("", items, lambda n: n) == items
    assert filter_list('Datacenter == "dc2"', items, lambda n: n) == items[1:]
    with pytest.raises(FilterSyntaxError) as caught:
        filter_list("NotValid", items, lambda n: n)
    assert str(caught.value).startswith("failed to create result paginator: failed to read filter expression: 1:9 (8): ")
    with pytest.raises(FilterEvalError) as caught:
        filter_list('Bogus == "x"', items, lambda n: n)
    assert str(caught.value).startswith("failed to read result page: error finding value in datum: /Bogus")
    assert filter_list('Bogus == "x"', [], lambda n: n) == []


@pytest.mark.parametrize("body, text", [
    ("plain", "plain"),
    ("a\\tb\\n", "a\tb\n"),
    ("\\x41\\u00e9\\U0001F600\\101", "A\u00e9\U0001F600A"),
    ("\\\\", "\\"),
])
def test_go_unquote(body, text):
    assert go_unquote(body) == text


@pytest.mark.parametrize("body", ["\\'", "\\q", "\\x4", "\\", "a\nb", "\\400"])
def test_go_unquote_refuses_what_go_refuses(body):
    with pytest.raises(ValueError):
        go_unquote(body)
