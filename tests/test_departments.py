"""Department resolution: codes, names, aliases and unique parts; candidates, never guesses."""

from __future__ import annotations

import pytest

from bot.departments import DepartmentResolver


@pytest.fixture(scope="module")
def resolver(departments) -> DepartmentResolver:
    return DepartmentResolver(departments)


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("cnipa", "cnipa"),
        ("CNIPA", "cnipa"),
        ("ＣＮＩＰＡ", "cnipa"),  # full-width letters from a Chinese keyboard
        (" cnipa ", "cnipa"),
        ("国家知识产权局", "cnipa"),  # the plan's name
        ("知识产权局", "cnipa"),  # an alias
        ("中共中央宣传部", "cpd"),  # the full name
        ("国家版权局", "cpd"),  # an alias of another body
        ("网信办", "cac"),
        ("Ministry of Finance", "mof"),  # the English name
        ("finance", "mof"),  # a unique part of it
        ("证监", "csrc"),  # a unique part of a name
        ("中国科学院", "cas"),
        ("国家税务总局", "sta"),  # full name and alias of the same department
        ("联席会议成员单位", "members"),
    ],
)
def test_resolves(resolver: DepartmentResolver, query: str, code: str) -> None:
    result = resolver.resolve(query)
    assert result.department is not None, result
    assert result.department.code == code
    assert result.candidates == ()


@pytest.mark.parametrize(
    ("query", "candidates"),
    [
        ("最高", {"spc", "spp"}),
        ("科技", {"most", "sastind"}),
        ("人民", {"spc", "spp", "pboc"}),
        ("知识产权", {"cnipa", "jco", "members"}),
    ],
)
def test_ambiguous_names_give_candidates(resolver: DepartmentResolver, query, candidates) -> None:
    result = resolver.resolve(query)
    assert result.department is None
    assert result.ambiguous
    assert {d.code for d in result.candidates} == candidates


def test_broad_query_lists_every_match(resolver: DepartmentResolver) -> None:
    result = resolver.resolve("部")
    assert result.department is None
    assert len(result.candidates) > 8
    assert "cpd" in {d.code for d in result.candidates}


def test_unknown_name_suggests_without_choosing(resolver: DepartmentResolver) -> None:
    result = resolver.resolve("知产局")
    assert result.department is None and not result.ambiguous and result.candidates == ()
    assert [d.code for d in result.suggestions] == ["cnipa"]
    nothing = resolver.resolve("xyz")
    assert nothing.department is None and nothing.candidates == nothing.suggestions == ()
    several = resolver.resolve("cnipa boss")
    assert not several.ambiguous and several.candidates == ()
    assert resolver.resolve("   ").department is None


def test_a_query_longer_than_any_name_is_unknown_but_a_long_name_with_a_typo_is_not(
    resolver: DepartmentResolver,
) -> None:
    typo = "State Administration of Science, Technology and Industry for National Defense"
    assert [d.code for d in resolver.resolve(typo).suggestions][:1] == ["sastind"]
    pasted = resolver.resolve(typo * 50)
    assert pasted.department is None and pasted.candidates == pasted.suggestions == ()
