"""Word lists for the demo company. Invented here; every domain ends in the reserved `.example`
top-level domain so no generated address can reach a real inbox."""

from __future__ import annotations

DEMO_EMAIL_DOMAIN = "demo.goodword.example"
ACCOUNT_TLD = "example"

# Company names are "<head><tail> <trade>", e.g. "Bluestone Analytics": 60 x 60 x 24 names
# before a number is needed to keep them apart.
NAME_HEADS = (
    "Blue", "North", "Silver", "Iron", "Bright", "Red", "Oak", "Clear", "Swift", "High",
    "Green", "Star", "Sun", "Moon", "Cedar", "Maple", "Pine", "River", "Lake", "Summit",
    "Cloud", "Frost", "Gold", "Granite", "Harbor", "Lumen", "Nova", "Orbit", "Prime", "Quartz",
    "Rapid", "Sky", "True", "Vast", "West", "East", "South", "Wild", "Zen", "Amber",
    "Aspen", "Birch", "Coral", "Delta", "Echo", "Falcon", "Glacier", "Hawk", "Indigo", "Jade",
    "Kite", "Lark", "Meadow", "Nimbus", "Onyx", "Peak", "Quill", "Raven", "Sage", "Tidal",
)  # fmt: skip
NAME_TAILS = (
    "stone", "field", "wave", "leaf", "path", "bridge", "gate", "point", "line", "light",
    "works", "forge", "mark", "ridge", "view", "wood", "brook", "crest", "dale", "haven",
    "land", "shore", "spark", "vale", "well", "wind", "yard", "bay", "bloom", "core",
    "craft", "dock", "fall", "glen", "hill", "hub", "loop", "mill", "port", "rock",
    "root", "sail", "scape", "side", "spring", "stack", "stream", "tide", "tower", "trail",
    "vista", "wing", "beam", "cove", "ford", "grid", "key", "nest", "pulse", "shift",
)  # fmt: skip
# The trade word names the industry, so "Harborline Logistics" is in transport.
TRADES = (
    ("Analytics", "Software"),
    ("Software", "Software"),
    ("Labs", "Software"),
    ("Systems", "Information Technology"),
    ("Networks", "Telecommunications"),
    ("Health", "Healthcare"),
    ("Clinics", "Healthcare"),
    ("Bio", "Life Sciences"),
    ("Pharma", "Life Sciences"),
    ("Bank", "Financial Services"),
    ("Capital", "Financial Services"),
    ("Insurance", "Insurance"),
    ("Logistics", "Transportation & Logistics"),
    ("Freight", "Transportation & Logistics"),
    ("Manufacturing", "Manufacturing"),
    ("Industries", "Manufacturing"),
    ("Energy", "Energy & Utilities"),
    ("Foods", "Food & Beverage"),
    ("Retail", "Retail"),
    ("Learning", "Education"),
    ("Media", "Media & Entertainment"),
    ("Consulting", "Professional Services"),
    ("Legal", "Professional Services"),
    ("Properties", "Real Estate"),
)

FIRST_NAMES = (
    "Ava", "Liam", "Maya", "Noah", "Sofia", "Lucas", "Amara", "Mateo", "Priya", "Ethan",
    "Chloé", "Kenji", "Zoë", "Omar", "Ingrid", "Rafael", "Aisha", "Jonas", "Mei", "Diego",
    "Hannah", "Arjun", "Elena", "Tomás", "Fatima", "Oliver", "Yuki", "Samuel", "Leila", "Marco",
    "Nina", "Kwame", "Clara", "Hugo", "Anika", "Felix", "Rosa", "Daniel", "Ines", "Tariq",
    "Grace", "Mikael", "Lucía", "Benjamin", "Sanna", "Viktor", "Naomi", "Pedro", "Freya", "Ahmed",
    "Isla", "Ravi", "Julia", "Emeka", "Astrid", "Paolo", "Chen", "Laura", "Dmitri", "Amelia",
    "Kofi", "Margot", "Sven", "Beatriz", "Ibrahim", "Emma", "Haruto", "Carmen", "Jakob", "Nadia",
    "Theo", "Lena", "Adebayo", "Sara", "Mohammed", "Elise", "Andrés", "Hana", "Patrick", "Olga",
)  # fmt: skip
LAST_NAMES = (
    "Okafor", "Lindqvist", "Moreau", "Tanaka", "García", "Novak", "Schmidt", "Patel", "Rossi",
    "Nguyen", "Kowalski", "Fischer", "Haddad", "Jensen", "O'Brien", "Silva", "Kim", "Müller",
    "Bianchi", "Andersson", "Dubois", "Mensah", "Sato", "Fernández", "Ivanova", "Walsh",
    "Bakker", "Costa", "Larsen", "Khan", "Murphy", "Yamamoto", "Hoffmann", "Rahman", "Laurent",
    "Santos", "Eriksen", "Adeyemi", "Romano", "Chen", "Brennan", "Weber", "Virtanen", "Alvarez",
    "Singh", "Martin", "Nakamura", "Kovacs", "Dias", "Hughes", "Becker", "Mwangi", "Ortiz",
    "Lambert", "Nielsen", "Ferreira", "Das", "Keller", "Carter", "Popescu", "Suzuki", "Horvat",
    "Reyes", "Brooks", "Vogel", "Mahlaba", "Conti", "Petrov", "Hayes", "Jovanović", "Lund",
    "Osei", "Richter", "Marino", "Ali", "Wagner", "Hall", "Morales", "Berg", "Kaur", "Fontaine",
)  # fmt: skip

# (title, weight): many practitioners, fewer executives, as in a real contact list.
TITLES = (
    ("Chief Executive Officer", 2), ("Chief Financial Officer", 2),
    ("Chief Technology Officer", 2), ("Chief Operating Officer", 1),
    ("VP of Sales", 3), ("VP of Engineering", 3), ("VP of Customer Success", 2),
    ("Head of Revenue Operations", 3), ("Head of Marketing", 3), ("Head of IT", 3),
    ("Director of Operations", 4), ("Director of Finance", 3), ("Director of Product", 3),
    ("IT Manager", 6), ("Procurement Manager", 5), ("Marketing Manager", 6),
    ("Sales Operations Analyst", 5), ("Customer Success Manager", 5), ("Product Manager", 6),
    ("Software Engineer", 7), ("Data Analyst", 6), ("Office Manager", 3),
    ("Operations Specialist", 5), ("Account Manager", 4), ("Security Engineer", 3),
)  # fmt: skip

# (ISO country, weight, E.164 prefix, random digits). US, CA, GB and AU numbers fall in the
# ranges their regulators keep for fiction, so dialling one reaches nobody.
COUNTRIES = (
    ("US", 38, "+1{area}55501", 2),
    ("GB", 10, "+442079460", 3),
    ("DE", 9, "+4930", 8),
    ("FR", 6, "+331", 8),
    ("CA", 6, "+1{area}55501", 2),
    ("NL", 4, "+3120", 7),
    ("AU", 4, "+6125550", 4),
    ("SE", 3, "+468", 7),
    ("ES", 3, "+3491", 7),
    ("IT", 3, "+3906", 8),
    ("IE", 2, "+3531", 7),
    ("CH", 2, "+4144", 7),
    ("JP", 2, "+813", 8),
    ("SG", 2, "+656", 7),
    ("BR", 2, "+55113", 7),
    ("IN", 2, "+9122", 8),
)
AREA_CODES = {
    "US": ("212", "415", "617", "312", "512", "206", "303", "404", "646", "720"),
    "CA": ("416", "604", "514", "613", "403"),
}

TEAMS = ("East", "West", "Central", "EMEA", "APAC", "LATAM")

DEAL_PRODUCTS = (
    "Platform", "Analytics add-on", "Enterprise plan", "Growth plan", "Team plan",
    "Data connectors", "Premium support", "Security pack", "API access", "Onboarding services",
)  # fmt: skip

FOLLOW_UPS = (
    ("call", "Call {contact} about {deal}"),
    ("email", "Send pricing to {contact}"),
    ("meeting", "Demo for {contact}'s team"),
    ("follow_up", "Follow up on {deal}"),
    ("todo", "Prepare proposal for {deal}"),
)
CSM_TASKS = (
    ("meeting", "Quarterly business review with {account}"),
    ("call", "Check in with {contact} on adoption"),
    ("email", "Share the onboarding plan with {contact}"),
    ("todo", "Review {account}'s usage before renewal"),
)
MANAGER_TASKS = (
    ("todo", "Review the {team} team's pipeline"),
    ("meeting", "One-to-ones with the {team} team"),
    ("todo", "Approve discounts waiting for review"),
)
ADMIN_TASKS = (
    ("todo", "Check the pipeline stage probabilities"),
    ("todo", "Invite the new hires"),
    ("todo", "Rotate the API key used by the data warehouse"),
)
