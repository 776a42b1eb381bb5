"""What the demo's customers write: NPS comments, ticket texts and messages, by mood.

Fill-ins: {feature} a product area, {n} a number, {team} a team of theirs, {rep} our person.
"""

from __future__ import annotations

FEATURES = (
    "scheduled reports",
    "the dashboard builder",
    "automations",
    "the Salesforce sync",
    "shared dashboards",
    "the alerts",
    "the CSV export",
    "the API",
)
TEAMS = ("finance", "ops", "sales", "marketing", "support", "leadership", "RevOps")

NPS_COMMENTS = {
    "promoter": (
        "Reporting used to take us two days a month, now it runs itself.",
        "The {team} team lives in {feature}. Easy yes.",
        "Saved us hours every week and support is superb.",
        "Best purchase we made this year, the whole {team} team uses it.",
        "Brilliant product, {rep} has been fantastic throughout the rollout.",
        "We rolled it out to {n} people without a single training session.",
        "Exactly what we needed. {feature} alone paid for it.",
        "",
    ),
    "passive": (
        "Does the job. Would like more chart types.",
        "Good overall, {feature} could be faster.",
        "Fine for what we need, nothing more.",
        "Solid, though onboarding new users takes a while.",
        "",
        "",
    ),
    "detractor": (
        "{feature} breaks every other week and nobody tells us.",
        "Too expensive for what we actually use.",
        "Support takes days to answer, we are looking at alternatives.",
        "The data is often out of date, so people stopped trusting the dashboards.",
        "We still export everything to spreadsheets; adoption never took off.",
        "",
    ),
}

TICKETS = {
    "question": (
        "How do I share a dashboard with someone outside our workspace?",
        "Can {feature} run on a custom schedule, e.g. the first Monday of the month?",
        "Is there a way to bulk invite {n} users from a CSV?",
        "Where do I find the audit log for {feature}?",
        "What is the rate limit of the API for our plan?",
        "Could you explain how the {team} permissions work?",
    ),
    "problem": (
        "{feature} has not run since yesterday morning, no error shown.",
        "The Salesforce sync is failing with a timeout for about {n} records.",
        "Dashboards load very slowly today, over a minute each.",
        "Since the last release {feature} shows numbers that do not match our source data.",
        "We are locked out of the admin settings after the SSO change.",
        "Exports cut off after {n} rows, we need all of them for the board pack.",
    ),
    "angry": (
        "Third time this month {feature} is down. This is unacceptable for a paid product.",
        "Still waiting for an answer on this, our {team} team cannot work.",
        "We were charged twice and nobody has replied in a week. Please escalate.",
        "The data loss last night cost us a day of work. We need a root cause today.",
    ),
    "grateful": (
        "Fixed within the hour, thank you so much! Brilliant support as always.",
        "That workaround did it, thanks a lot. Really appreciate how quick you were.",
        "Perfect, works now. You folks are great.",
        "Thank you, the explanation was super clear and the {team} team is happy again.",
    ),
}

MESSAGES = {
    "praise": (
        "Just wanted to say: {feature} saved the {team} team about {n} hours last month. "
        "Thank you!",
        "Our CFO called the new board pack the best reporting we have ever had. "
        "Huge thanks to {rep}.",
        "We rolled the product out to the whole {team} team this week and everyone loves it.",
        "Five stars. Setup took an afternoon and it has been rock solid since.",
        "Honestly a game changer for us, I recommend you to everyone who asks.",
        "Quick note of thanks: the automations now replace a full day of manual work a week.",
        "Love the new dashboards, the team is thrilled.",
    ),
    "neutral": (
        "Can we move our review call to Thursday?",
        "Please add {n} more seats to our plan from next month.",
        "Sending over the list of users for the {team} workspace.",
        "Who should we talk to about the renewal paperwork?",
    ),
    "complaint": (
        "We are disappointed with how long {feature} has been broken.",
        "Honestly we are considering cancelling if the sync problems continue.",
        "Nobody on the {team} team uses it any more, the numbers are never right.",
        "The price increase is hard to justify given the outages.",
    ),
}
