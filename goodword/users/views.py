"""Log in and out (failed logins are throttled per e-mail and per address), and the weekly
digests' settings page."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import authenticate, login, logout
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from goodword.users.models import User
from goodword.users.services import (
    login_failure_record,
    login_failures_clear,
    login_locked,
    user_digests_set,
)


class LoginForm(forms.Form):
    email = forms.EmailField(widget=forms.EmailInput(attrs={"autofocus": True}))
    password = forms.CharField(widget=forms.PasswordInput)


def _client_ip(request: HttpRequest) -> str | None:
    return request.META.get("REMOTE_ADDR") or None


@login_not_required
@require_http_methods(["GET", "HEAD", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(next_url, {request.get_host()}, request.is_secure()):
        next_url = ""
    form = LoginForm(request.POST or None)
    error = ""
    status = 200
    if request.method == "POST" and form.is_valid():
        email = form.cleaned_data["email"].lower()
        ip = _client_ip(request)
        if login_locked(email, ip):
            error = "Too many failed attempts. Wait a few minutes and try again."
            status = 429
        else:
            user = authenticate(request, email=email, password=form.cleaned_data["password"])
            if user is None:
                login_failure_record(email, ip)
                error = "That e-mail and password do not match an active user."
                status = 400
            else:
                login_failures_clear(email)
                login(request, user)
                return HttpResponseRedirect(next_url or reverse("my-tasks"))
    context: dict[str, Any] = {"form": form, "error": error, "next": next_url}
    return render(request, "users/login.html", context, status=status)


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    return redirect("login")


@login_not_required
def admin_login_redirect(request: HttpRequest) -> HttpResponse:
    """The back office uses the same throttled login page."""
    return redirect(f"{reverse('login')}?next={request.GET.get('next', '/admin/')}")


DIGEST_CHOICES = {"stop": False, "resume": True}  # the form's button values → receive


@require_http_methods(["GET", "HEAD", "POST"])
def account_digests(request: HttpRequest) -> HttpResponse:
    """The weekly digests, on or off. Every digest links here; only the POST of the form's
    button changes anything, so a mail scanner following the link does not opt anyone out."""
    user = request.user
    assert isinstance(user, User), "LoginRequired middleware lets only users through"
    if request.method == "POST":
        choice = request.POST.get("digests", "")
        if choice not in DIGEST_CHOICES:
            context = {"error": "Choose to stop or resume the digests."}
            return render(request, "users/digests.html", context, status=400)
        user_digests_set(user=user, receive=DIGEST_CHOICES[choice], now=timezone.now())
        return redirect("account-digests")
    return render(request, "users/digests.html", {"error": ""})
