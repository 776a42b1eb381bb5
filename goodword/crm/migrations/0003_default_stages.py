from django.db import migrations

# Salesforce's default opportunity stages and their probabilities.
STAGES = [
    ("Prospecting", 10, False, False),
    ("Qualification", 10, False, False),
    ("Needs Analysis", 20, False, False),
    ("Value Proposition", 50, False, False),
    ("Id. Decision Makers", 60, False, False),
    ("Perception Analysis", 70, False, False),
    ("Proposal/Price Quote", 75, False, False),
    ("Negotiation/Review", 90, False, False),
    ("Closed Won", 100, True, False),
    ("Closed Lost", 0, False, True),
]


def create(apps, schema_editor):
    Stage = apps.get_model("crm", "Stage")
    if Stage.objects.exists():
        return
    for position, (name, probability, won, lost) in enumerate(STAGES, start=1):
        Stage.objects.create(
            name=name, position=position, probability=probability, is_won=won, is_lost=lost
        )


class Migration(migrations.Migration):
    dependencies = [("crm", "0002_initial")]
    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
