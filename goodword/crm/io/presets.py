"""Column names and values of the CSV files we read: our own (native), and the standard exports
of HubSpot and Salesforce mapped onto ours.

A preset is a table of header aliases per column plus, for some columns, a function that turns
the other system's value into ours (e.g. Salesforce's opportunity Type "New Customer" → "new").
Values that the table does not know pass through unchanged, so our own values always work.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

KINDS: dict[str, tuple[str, ...]] = {
    "users": ("email", "first_name", "last_name", "role", "team"),
    "accounts": (
        "external_id",
        "name",
        "domain",
        "industry",
        "employees",
        "country",
        "lifecycle",
        "owner_email",
        "csm_email",
        "customer_since",
        "arr",
        "currency",
    ),
    "contacts": (
        "external_id",
        "account_external_id",
        "first_name",
        "last_name",
        "email",
        "title",
        "phone",
        "past_employers",
        "opted_out",
    ),
    "deals": (
        "external_id",
        "account_external_id",
        "name",
        "amount",
        "currency",
        "stage",
        "kind",
        "source",
        "owner_email",
        "created_at",
        "close_date",
        "closed_at",
        "referred_by",
    ),
    # Signals (goodword/signals/importers.py): our own column names only.
    "nps": (
        "external_id",
        "account_external_id",
        "contact_email",
        "score",
        "comment",
        "responded_at",
    ),
    "tickets": (
        "external_id",
        "account_external_id",
        "contact_email",
        "opened_at",
        "closed_at",
        "priority",
        "escalated",
        "csat",
        "csat_scale",
        "text",
    ),
    "messages": (
        "external_id",
        "account_external_id",
        "contact_email",
        "received_at",
        "channel",
        "text",
    ),
    "goals": (
        "external_id",
        "account_external_id",
        "name",
        "event",
        "measure",
        "target",
        "starts_at",
        "due_at",
    ),
}

# Columns a file must have: the key that makes re-import an upsert, and what a new row needs.
REQUIRED: dict[str, tuple[str, ...]] = {
    "users": ("email",),
    "accounts": ("external_id", "name"),
    "contacts": ("external_id", "account_external_id", "email"),
    "deals": ("external_id", "account_external_id", "name", "stage"),
    "nps": ("external_id", "account_external_id", "score", "responded_at"),
    "tickets": ("external_id", "account_external_id", "opened_at"),
    "messages": ("external_id", "account_external_id", "received_at", "channel", "text"),
    "goals": ("external_id", "account_external_id", "name", "event", "target", "starts_at"),
}

PRESETS = ("native", "hubspot", "salesforce")

ValueMap = Callable[[str], str]


def _lookup(table: Mapping[str, str]) -> ValueMap:
    """Translate a value by a case-insensitive table; unknown values pass through."""
    folded = {key.casefold(): value for key, value in table.items()}

    def translate(value: str) -> str:
        return folded.get(value.strip().casefold(), value)

    return translate


# Common country names (and the spellings CRMs use) → ISO 3166-1 alpha-2.
COUNTRIES = {
    "united states": "US",
    "united states of america": "US",
    "usa": "US",
    "u.s.": "US",
    "u.s.a.": "US",
    "america": "US",
    "canada": "CA",
    "mexico": "MX",
    "brazil": "BR",
    "argentina": "AR",
    "chile": "CL",
    "colombia": "CO",
    "united kingdom": "GB",
    "uk": "GB",
    "great britain": "GB",
    "england": "GB",
    "scotland": "GB",
    "ireland": "IE",
    "germany": "DE",
    "deutschland": "DE",
    "france": "FR",
    "spain": "ES",
    "portugal": "PT",
    "italy": "IT",
    "netherlands": "NL",
    "the netherlands": "NL",
    "belgium": "BE",
    "luxembourg": "LU",
    "switzerland": "CH",
    "austria": "AT",
    "denmark": "DK",
    "sweden": "SE",
    "norway": "NO",
    "finland": "FI",
    "iceland": "IS",
    "poland": "PL",
    "czech republic": "CZ",
    "czechia": "CZ",
    "hungary": "HU",
    "romania": "RO",
    "greece": "GR",
    "turkey": "TR",
    "türkiye": "TR",
    "ukraine": "UA",
    "israel": "IL",
    "united arab emirates": "AE",
    "uae": "AE",
    "saudi arabia": "SA",
    "south africa": "ZA",
    "nigeria": "NG",
    "kenya": "KE",
    "egypt": "EG",
    "india": "IN",
    "china": "CN",
    "japan": "JP",
    "south korea": "KR",
    "korea, republic of": "KR",
    "singapore": "SG",
    "hong kong": "HK",
    "taiwan": "TW",
    "indonesia": "ID",
    "malaysia": "MY",
    "philippines": "PH",
    "thailand": "TH",
    "vietnam": "VN",
    "australia": "AU",
    "new zealand": "NZ",
}
country = _lookup(COUNTRIES)

_US_DATE = re.compile(
    r"^(\d{1,2})/(\d{1,2})/(\d{4})(?:[ ,]+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AaPp][Mm])?)?$"
)


def us_date(value: str) -> str:
    """Salesforce report exports write M/D/YYYY [h:mm AM]; turn that into ISO 8601.
    ISO values (HubSpot, Salesforce Data Loader) pass through."""
    match = _US_DATE.match(value.strip())
    if match is None:
        return value
    month, day, year, hour, minute, second, half = match.groups()
    date = f"{year}-{int(month):02d}-{int(day):02d}"
    if hour is None:
        return date
    h = int(hour)
    if half:  # 12 AM is midnight, 12 PM noon
        h = h % 12 + (12 if half.lower() == "pm" else 0)
    return f"{date}T{h:02d}:{minute}:{second or '00'}"


_ISO_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[ T]")


def date_part(value: str) -> str:
    """Date columns exported with a time (HubSpot '2024-02-01 00:00') keep the date."""
    value = us_date(value)
    return value[:10] if _ISO_DATE_TIME.match(value) else value


def first_of_list(value: str) -> str:
    """HubSpot writes several associated record ids as 'id1;id2': the first is the primary."""
    return value.split(";")[0].strip()


HUBSPOT_STAGES = {
    "appointmentscheduled": "Prospecting",
    "appointment scheduled": "Prospecting",
    "qualifiedtobuy": "Qualification",
    "qualified to buy": "Qualification",
    "presentationscheduled": "Value Proposition",
    "presentation scheduled": "Value Proposition",
    "decisionmakerboughtin": "Id. Decision Makers",
    "decision maker bought-in": "Id. Decision Makers",
    "contractsent": "Proposal/Price Quote",
    "contract sent": "Proposal/Price Quote",
    "closedwon": "Closed Won",
    "closed won": "Closed Won",
    "closedlost": "Closed Lost",
    "closed lost": "Closed Lost",
}

HUBSPOT_DEAL_TYPES = {
    "newbusiness": "new",
    "new business": "new",
    "existingbusiness": "expansion",
    "existing business": "expansion",
}

HUBSPOT_SOURCES = {
    "organic_search": "inbound",
    "organic search": "inbound",
    "paid_search": "inbound",
    "paid search": "inbound",
    "email_marketing": "inbound",
    "email marketing": "inbound",
    "social_media": "inbound",
    "organic social": "inbound",
    "paid_social": "inbound",
    "paid social": "inbound",
    "direct_traffic": "inbound",
    "direct traffic": "inbound",
    # HubSpot's "Referrals" are visits from other web sites, not customer introductions.
    "referrals": "inbound",
    "ai_referrals": "inbound",
    "ai referrals": "inbound",
    "offline": "other",
    "offline sources": "other",
    "other_campaigns": "other",
    "other campaigns": "other",
}

HUBSPOT_LIFECYCLE = {
    "subscriber": "prospect",
    "lead": "prospect",
    "marketingqualifiedlead": "prospect",
    "marketing qualified lead": "prospect",
    "salesqualifiedlead": "prospect",
    "sales qualified lead": "prospect",
    "opportunity": "prospect",
    "other": "prospect",
    "customer": "customer",
    "evangelist": "customer",
}

SALESFORCE_KINDS = {
    "new customer": "new",
    "new business": "new",
    "existing customer - upgrade": "expansion",
    "existing customer - replacement": "renewal",
    "existing customer - downgrade": "renewal",
    "renewal": "renewal",
}

SALESFORCE_SOURCES = {
    "web": "inbound",
    "phone inquiry": "inbound",
    "advertisement": "inbound",
    "google adwords": "inbound",
    "webinar": "event",
    "trade show": "event",
    "seminar - internal": "event",
    "seminar - partner": "event",
    "customer event": "event",
    "partner referral": "partner",
    "partner": "partner",
    "purchased list": "outbound",
    "cold call": "outbound",
    "external referral": "referral",
    "customer referral": "referral",
    "word of mouth": "referral",
    "employee referral": "other",
    "other": "other",
}

SALESFORCE_ACCOUNT_TYPES = {
    "prospect": "prospect",
    "customer - direct": "customer",
    "customer - channel": "customer",
    "channel partner / reseller": "prospect",
    "installation partner": "prospect",
    "technology partner": "prospect",
    "other": "prospect",
}


def _hubspot_aliases() -> dict[str, dict[str, tuple[str, ...]]]:
    return {
        "users": {
            "email": ("Email",),
            "first_name": ("First Name",),
            "last_name": ("Last Name",),
            "team": ("Team", "Primary team"),
        },
        "accounts": {
            "external_id": ("Record ID", "Company ID"),
            "name": ("Company name", "Name"),
            "domain": ("Company Domain Name", "Website URL"),
            "industry": ("Industry",),
            "employees": ("Number of Employees",),
            "country": ("Country/Region", "Country"),
            "lifecycle": ("Lifecycle Stage",),
            "owner_email": ("Company owner",),
            "customer_since": ("Became a Customer Date",),
            "currency": ("Currency",),
        },
        "contacts": {
            "external_id": ("Record ID", "Contact ID"),
            "account_external_id": (
                "Associated Company IDs (Primary)",
                "Associated Company IDs",
                "Associated Company ID",
                "Primary Associated Company ID",
                "Company ID",
            ),
            "first_name": ("First Name",),
            "last_name": ("Last Name",),
            "email": ("Email",),
            "title": ("Job Title",),
            "phone": ("Phone Number", "Mobile Phone Number"),
            "opted_out": ("Unsubscribed from all email",),
        },
        "deals": {
            "external_id": ("Record ID", "Deal ID"),
            "account_external_id": (
                "Associated Company IDs (Primary)",
                "Associated Company IDs",
                "Associated Company ID",
                "Company ID",
            ),
            "name": ("Deal Name",),
            "amount": ("Amount",),
            "currency": ("Currency", "Deal currency code"),
            "stage": ("Deal Stage",),
            "kind": ("Deal Type",),
            "source": ("Original Source Type", "Original Traffic Source", "Original Source"),
            "owner_email": ("Deal owner",),
            "created_at": ("Create Date",),
            "close_date": ("Close Date",),
            "referred_by": ("Referred By", "Referrer Email"),
        },
    }


def _salesforce_aliases() -> dict[str, dict[str, tuple[str, ...]]]:
    return {
        "users": {
            "email": ("Email",),
            "first_name": ("FirstName", "First Name"),
            "last_name": ("LastName", "Last Name"),
            "team": ("Department", "UserRole.Name", "Role"),
        },
        "accounts": {
            "external_id": ("Id", "Account ID"),
            "name": ("Name", "Account Name"),
            "domain": ("Website",),
            "industry": ("Industry",),
            "employees": ("NumberOfEmployees", "Employees"),
            "country": ("BillingCountry", "Billing Country"),
            "lifecycle": ("Type", "Account Type"),
            "owner_email": ("Owner Email", "Owner.Email", "Account Owner Email", "Account Owner"),
            "currency": ("CurrencyIsoCode", "Account Currency"),
        },
        "contacts": {
            "external_id": ("Id", "Contact ID"),
            "account_external_id": ("AccountId", "Account ID"),
            "first_name": ("FirstName", "First Name"),
            "last_name": ("LastName", "Last Name"),
            "email": ("Email",),
            "title": ("Title",),
            "phone": ("Phone", "MobilePhone", "Mobile"),
            "opted_out": ("HasOptedOutOfEmail", "Email Opt Out"),
        },
        "deals": {
            "external_id": ("Id", "Opportunity ID"),
            "account_external_id": ("AccountId", "Account ID"),
            "name": ("Name", "Opportunity Name"),
            "amount": ("Amount",),
            "currency": ("CurrencyIsoCode", "Opportunity Currency"),
            "stage": ("StageName", "Stage"),
            "kind": ("Type", "Opportunity Type"),
            "source": ("LeadSource", "Lead Source"),
            "owner_email": (
                "Owner Email",
                "Owner.Email",
                "Opportunity Owner Email",
                "Opportunity Owner",
            ),
            "created_at": ("CreatedDate", "Created Date"),
            "close_date": ("CloseDate", "Close Date"),
            "referred_by": ("Referred_By__c", "Referred By", "Referrer Email"),
        },
    }


def _value_maps(preset: str, kind: str) -> dict[str, ValueMap]:
    if preset == "native":
        return {}
    maps: dict[str, ValueMap] = {"created_at": us_date, "closed_at": us_date}
    maps.update({"customer_since": date_part, "close_date": date_part})
    if kind == "accounts":
        maps["country"] = country
    if preset == "hubspot":
        maps.update(
            {
                "account_external_id": first_of_list,
                "stage": _lookup(HUBSPOT_STAGES),
                "kind": _lookup(HUBSPOT_DEAL_TYPES),
                "source": _lookup(HUBSPOT_SOURCES),
            }
        )
        if kind == "accounts":
            maps["lifecycle"] = _lookup(HUBSPOT_LIFECYCLE)
    else:
        maps.update({"kind": _lookup(SALESFORCE_KINDS), "source": _lookup(SALESFORCE_SOURCES)})
        if kind == "accounts":
            maps["lifecycle"] = _lookup(SALESFORCE_ACCOUNT_TYPES)
    return {field: fn for field, fn in maps.items() if field in KINDS[kind]}


def aliases(preset: str, kind: str) -> dict[str, str]:
    """Header (case-folded) → our column, for one preset and kind. Our own names always work."""
    table: dict[str, str] = {column.casefold(): column for column in KINDS[kind]}
    if preset != "native":
        extra = _hubspot_aliases() if preset == "hubspot" else _salesforce_aliases()
        for column, names in extra.get(kind, {}).items():
            for name in names:
                table.setdefault(name.casefold(), column)
    return table


def value_maps(preset: str, kind: str) -> dict[str, ValueMap]:
    """Our column → function turning the other system's value into ours."""
    return _value_maps(preset, kind)
