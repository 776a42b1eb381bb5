"""Email domains: whose company an address belongs to. Values in, values out.

A free-mail address (gmail.com and the like) says nothing about a person's employer: it is
never matched to a company, and two people on it are not colleagues.
"""

from __future__ import annotations

FREE_MAIL = frozenset(
    {
        "gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "hotmail.co.uk",
        "live.com", "msn.com", "yahoo.com", "yahoo.co.uk", "yahoo.fr", "ymail.com",
        "icloud.com", "me.com", "mac.com", "aol.com", "proton.me", "protonmail.com",
        "pm.me", "gmx.com", "gmx.de", "gmx.net", "web.de", "mail.com", "zoho.com",
        "yandex.com", "yandex.ru", "mail.ru", "qq.com", "163.com", "126.com",
        "fastmail.com", "hey.com", "tutanota.com", "orange.fr", "free.fr", "laposte.net",
        "libero.it", "t-online.de", "comcast.net", "btinternet.com",
    }
)  # fmt: skip


def email_domain(email: str) -> str:
    """The lower-case domain of an address ('' when it has none)."""
    _, at, domain = email.strip().rpartition("@")
    return domain.lower().rstrip(".") if at else ""


def company_domain(email: str) -> str:
    """The domain of the sender's company, or '' for a free-mail or malformed address."""
    domain = email_domain(email)
    return "" if not domain or domain in FREE_MAIL else domain


def same_domain(domain: str, other: str) -> bool:
    """Whether two company domains are one company's (www. and case ignored; a subdomain
    counts as its parent's: eu.acme.com is acme.com)."""
    a, b = _bare(domain), _bare(other)
    if not a or not b:
        return False
    return a == b or a.endswith("." + b) or b.endswith("." + a)


def _bare(domain: str) -> str:
    domain = domain.strip().lower().rstrip(".")
    return domain.removeprefix("www.")
