"""The intro templates' pages: the list anyone reads, an admin's edit page with its live
preview, saving and resetting; 404 for an unknown kind, 403 for who may not change them."""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.urls import reverse

from goodword.conftest import PASSWORD, log_in
from goodword.crm.models import Task
from goodword.engine import templates as engine
from goodword.referrals import texts
from goodword.referrals.models import IntroTemplate
from goodword.users.models import User

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 5, 4, 9, 30, tzinfo=dt.UTC)
LIST = reverse("intro-templates")


def client_for(user: User, csrf: bool = False) -> Client:
    client = Client(enforce_csrf_checks=csrf)
    assert client.login(email=user.email, password=PASSWORD)
    return client


def edit(kind: str) -> str:
    return reverse("intro-templates-edit", args=[kind])


def preview(kind: str) -> str:
    return reverse("intro-templates-preview", args=[kind])


def reset(kind: str) -> str:
    return reverse("intro-templates-reset", args=[kind])


def text(response: Any) -> str:
    return html.unescape(response.content.decode())


def saved(admin: User, kind: str = "blurb", body: str = "Old {product}.") -> IntroTemplate:
    subject = "Old" if kind in texts.EMAIL_KINDS else ""
    return texts.template_save(actor=admin, kind=kind, subject=subject, body=body, now=NOW)


def rows() -> list[tuple[str, str, str]]:
    return list(IntroTemplate.objects.values_list("kind", "subject", "body"))


# --- the list ----------------------------------------------------------------------------------


def test_anyone_logged_in_reads_every_kinds_wording_but_only_admins_get_edit_links(
    rep: User, admin_user: User
) -> None:
    saved(admin_user, "linkedin", "Hey {person_first_name}!")
    response = client_for(rep).get(LIST)
    assert response.status_code == 200
    page = text(response)
    for label in engine.LABELS.values():
        assert f'<th scope="row">{label}</th>' in page
    assert engine.DEFAULTS["email"] in page
    assert "Hey {person_first_name}!" in page
    assert "Changed by Admin" in page
    assert edit("blurb") not in page
    assert edit("blurb") in text(client_for(admin_user).get(LIST))


def test_the_list_is_exported_as_csv(rep: User, admin_user: User) -> None:
    saved(admin_user, "linkedin", "=Hey {person_first_name}!")
    response = client_for(rep).get(LIST, {"export": "csv"})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="intro-templates.csv"'
    table = list(csv.reader(io.StringIO(response.getvalue().decode())))
    assert table[0] == ["kind", "label", "subject", "body", "changed_by", "changed_at"]
    assert [row[0] for row in table[1:]] == ["blurb", "email", "linkedin", "ask_email"]
    assert table[2] == [
        "email",
        "Email introduction",
        engine.SUBJECTS["email"],
        engine.DEFAULTS["email"],
        "",
        "",
    ]
    # A formula-looking template is neutralised for spreadsheets.
    assert table[3] == [
        "linkedin",
        "LinkedIn message",
        "",
        "'=Hey {person_first_name}!",
        "admin@example.com",
        "2026-05-04T09:30:00+00:00",
    ]


def test_someone_logged_out_is_sent_to_log_in(client: Client) -> None:
    response = client.get(LIST)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


# --- the edit page -----------------------------------------------------------------------------


def test_an_admin_edits_with_a_live_preview(admin_user: User) -> None:
    response = client_for(admin_user).get(edit("email"))
    assert response.status_code == 200
    page = text(response)
    assert "<h1>Email introduction</h1>" in page
    assert '<label for="template-subject">Subject</label>' in page
    assert '<label for="template-body">Text</label>' in page
    assert f'hx-post="{preview("email")}" hx-trigger="keyup changed delay:300ms, change"' in page
    assert "Introduction: Sam and Priya Shah" in page  # the default, with sample values
    assert "Introduction: you and our account manager" in page  # ... and with none
    assert "Reset to Goodword's wording" not in page  # nothing to reset yet


def test_a_kind_without_a_subject_has_no_subject_field(admin_user: User) -> None:
    page = text(client_for(admin_user).get(edit("linkedin")))
    assert 'name="subject"' not in page
    assert "Hi Sam! We've been using Brightwork at Acme Analytics" in page


@pytest.mark.parametrize("who", ["rep", "csm", "manager"])
def test_who_is_not_an_admin_may_not_open_the_edit_page(
    who: str, request: pytest.FixtureRequest
) -> None:
    response = client_for(request.getfixturevalue(who)).get(edit("email"))
    assert response.status_code == 403
    assert "Only admins edit the intro templates" in text(response)


@pytest.mark.parametrize("who", ["rep", "admin_user"])
def test_an_unknown_kind_is_not_found_for_anyone(who: str, request: pytest.FixtureRequest) -> None:
    client = client_for(request.getfixturevalue(who))
    assert client.get(edit("fax")).status_code == 404
    assert client.post(edit("fax"), {"body": "Hi."}).status_code == 404
    assert client.post(preview("fax"), {"body": "Hi."}).status_code == 404
    assert client.post(reset("fax")).status_code == 404
    assert rows() == []


# --- saving ------------------------------------------------------------------------------------


def test_an_admin_saves_and_the_new_wording_is_in_force(admin_user: User) -> None:
    client = client_for(admin_user)
    response = client.post(
        edit("email"), {"subject": "Meet {rep_name}", "body": "Hi {person_first_name}.\r\n"}
    )
    assert response.status_code == 302
    assert response["Location"] == LIST
    assert rows() == [("email", "Meet {rep_name}", "Hi {person_first_name}.\n")]
    page = text(client.get(LIST))
    assert "Saved: Email introduction. New texts use it from now on." in page


def test_the_drafts_on_the_ask_page_use_the_saved_wording(
    admin_user: User, rep: User, ask: Task
) -> None:
    client_for(admin_user).post(edit("blurb"), {"body": "Talk to {rep_name}[, {person_name}]."})
    page = text(client_for(rep).get(reverse("ask-page", args=[ask.pk])))
    assert "Talk to Rep." in page


@pytest.mark.parametrize("who", ["rep", "csm", "manager"])
def test_who_is_not_an_admin_may_not_save_and_nothing_changes(
    who: str, admin_user: User, request: pytest.FixtureRequest
) -> None:
    saved(admin_user)
    client = client_for(request.getfixturevalue(who))
    assert client.post(edit("blurb"), {"body": "New."}).status_code == 403
    assert client.post(edit("linkedin"), {"body": "New."}).status_code == 403
    assert rows() == [("blurb", "", "Old {product}.")]


def test_a_parse_error_is_shown_inline_and_the_old_wording_kept(admin_user: User) -> None:
    saved(admin_user)
    response = client_for(admin_user).post(edit("blurb"), {"body": "Hi\n  {person_name"})
    assert response.status_code == 400
    page = text(response)
    assert 'aria-invalid="true" aria-describedby="template-body-error"' in page
    assert (
        '<p class="error" id="template-body-error">line 2, column 3: a { without its } '
        "(write {{ for a brace)</p>"
    ) in page
    assert "Hi\n  {person_name</textarea>" in page  # the admin's text, kept to fix
    assert rows() == [("blurb", "", "Old {product}.")]


def test_saving_needs_the_csrf_token(admin_user: User) -> None:
    client = client_for(admin_user, csrf=True)
    assert client.post(edit("blurb"), {"body": "New."}).status_code == 403
    assert client.post(reset("blurb")).status_code == 403
    assert client.post(preview("blurb"), {"body": "New."}).status_code == 403
    assert rows() == []


def test_the_preview_button_of_the_form_saves_nothing(admin_user: User) -> None:
    saved(admin_user)
    response = client_for(admin_user).post(
        edit("blurb"), {"body": "New {product}!", "action": "preview"}
    )
    assert response.status_code == 200
    assert "New Brightwork!" in text(response)
    assert rows() == [("blurb", "", "Old {product}.")]


# --- the live preview --------------------------------------------------------------------------


def test_the_preview_shows_samples_and_fallbacks_and_saves_nothing(admin_user: User) -> None:
    saved(admin_user, "email")
    body = "Hi {person_first_name}[ at {person_company}]."
    typed = {"subject": "For {person_first_name|you}", "body": body}
    response = client_for(admin_user).post(preview("email"), typed, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    page = text(response)
    assert '<span data-part="subject">For Sam</span>' in page
    assert '<div class="pre" data-part="text">Hi Sam at Globex.</div>' in page
    assert '<span data-part="subject">For you</span>' in page
    assert '<div class="pre" data-part="text">Hi there.</div>' in page
    assert "<html" not in page  # a partial for htmx to swap in
    assert rows() == [("email", "Old", "Old {product}.")]


def test_the_preview_shows_a_parse_error_with_its_line_and_column(admin_user: User) -> None:
    response = client_for(admin_user).post(
        preview("linkedin"), {"body": "Hi {person_first_name}!\nSee {nobody} there"}
    )
    assert response.status_code == 200
    page = text(response)
    assert 'role="alert"' in page
    assert "<li>Text: <code>line 2, column 5: unknown field {nobody}; the fields:" in page
    assert "Fix the text to see it filled in." in page
    assert rows() == []


def test_the_preview_escapes_what_a_template_or_a_value_holds(
    admin_user: User, settings: Any
) -> None:
    settings.PRODUCT_NAME = "<script>alert('product')</script>"
    response = client_for(admin_user).post(
        preview("blurb"), {"body": "<script>alert('body')</script> {product}."}
    )
    raw = response.content.decode()
    assert "<script>" not in raw
    assert (
        "&lt;script&gt;alert(&#x27;body&#x27;)&lt;/script&gt; "
        "&lt;script&gt;alert(&#x27;product&#x27;)&lt;/script&gt;."
    ) in raw


def test_the_edit_page_escapes_a_saved_template(admin_user: User) -> None:
    saved(admin_user, body="</textarea><script>alert(1)</script>")
    raw = client_for(admin_user).get(edit("blurb")).content.decode()
    assert "<script>alert(1)" not in raw
    assert "&lt;/textarea&gt;&lt;script&gt;alert(1)&lt;/script&gt;</textarea>" in raw
    assert "<script>alert(1)" not in client_for(admin_user).get(LIST).content.decode()


@pytest.mark.parametrize("who", ["rep", "csm", "manager"])
def test_who_is_not_an_admin_gets_no_preview(who: str, request: pytest.FixtureRequest) -> None:
    response = client_for(request.getfixturevalue(who)).post(preview("blurb"), {"body": "Hi."})
    assert response.status_code == 403


def test_the_preview_and_the_reset_are_not_reached_by_get(admin_user: User) -> None:
    saved(admin_user)
    client = client_for(admin_user)
    assert client.get(preview("blurb"), {"body": "Hi."}).status_code == 405
    assert client.get(reset("blurb")).status_code == 405
    assert rows() == [("blurb", "", "Old {product}.")]


# --- reset -------------------------------------------------------------------------------------


def test_an_admin_resets_to_goodwords_wording(admin_user: User) -> None:
    saved(admin_user)
    client = client_for(admin_user)
    assert "Reset to Goodword's wording" in text(client.get(edit("blurb")))
    response = client.post(reset("blurb"))
    assert response.status_code == 302
    assert response["Location"] == LIST
    assert rows() == []
    page = text(client.get(LIST))
    assert "Reset: Forwardable blurb uses Goodword's wording again." in page
    assert engine.DEFAULTS["blurb"] in page


@pytest.mark.parametrize("who", ["rep", "csm", "manager"])
def test_who_is_not_an_admin_may_not_reset_and_nothing_changes(
    who: str, admin_user: User, request: pytest.FixtureRequest
) -> None:
    saved(admin_user)
    assert client_for(request.getfixturevalue(who)).post(reset("blurb")).status_code == 403
    assert rows() == [("blurb", "", "Old {product}.")]


# --- in a browser ------------------------------------------------------------------------------

AXE = Path(django_settings.BASE_DIR) / "static" / "vendor" / "axe-core" / "axe.min.js"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_preview_follows_the_admins_typing_in_a_browser(
    page: Any, live_server: Any, admin_user: User
) -> None:
    # Given an admin on the LinkedIn message's edit page
    base = live_server.url
    log_in(page, base, admin_user)
    page.goto(f"{base}{edit('linkedin')}")
    # When they type a new wording, the preview follows with samples and with fallbacks
    page.fill("#template-body", "")
    page.type("#template-body", "Hello {person_first_name}[ at {person_company}]!")
    sample = page.locator("#preview-sample [data-part=text]")
    bare = page.locator("#preview-bare [data-part=text]")
    sample.filter(has_text="Hello Sam at Globex!").wait_for()
    assert bare.inner_text() == "Hello there!"
    # And a broken field is pointed at by line and column
    page.type("#template-body", "\n{oops")
    page.locator("#preview [role=alert]").filter(has_text="line 2, column 1").wait_for()
    page.add_script_tag(path=str(AXE))
    found = page.evaluate(
        "() => axe.run().then(r => r.violations"
        ".filter(v => v.impact === 'serious' || v.impact === 'critical')"
        ".map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', ')))"
    )
    assert found == []
    assert page.js_errors == []
    # Then nothing was saved by previewing
    assert rows() == []
