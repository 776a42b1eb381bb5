from __future__ import annotations

import pytest

from goodword.engine.domains import company_domain, email_domain, same_domain


@pytest.mark.parametrize(
    ("email", "domain", "company"),
    [
        ("Grace@Globex.COM", "globex.com", "globex.com"),
        ("  ada@acme.io. ", "acme.io", "acme.io"),
        ("someone@gmail.com", "gmail.com", ""),
        ("no-at-sign", "", ""),
        ("", "", ""),
    ],
)
def test_the_domain_of_an_address(email: str, domain: str, company: str) -> None:
    assert (email_domain(email), company_domain(email)) == (domain, company)


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("acme.com", "ACME.com", True),
        ("www.acme.com", "acme.com", True),
        ("eu.acme.com", "acme.com", True),
        ("acme.com", "notacme.com", False),
        ("acme.com", "", False),
    ],
)
def test_one_company_across_subdomains(a: str, b: str, same: bool) -> None:
    assert same_domain(a, b) is same
