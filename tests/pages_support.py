"""Signing in to the pages with Flask's test client (the browser tests drive chromium instead)."""
import re

CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')
ENGLISH = re.compile(r"[A-Za-z]{3,}")


def english(text):
    """The English words left in a text meant to read in Chinese (shorter runs: codes, units, 'I' of a credit
    code)."""
    return ENGLISH.findall(text)


class Browser:
    """One person's test client with its cookies: sign in, read pages, post forms with the CSRF token."""

    def __init__(self, app, name=None, headers=None):
        self.client, self.name = app.test_client(), name
        self.headers = headers or {"Accept-Language": "en"}
        self.token = None

    def get(self, url, **kwargs):
        response = self.client.get(url, headers={**self.headers, **kwargs.pop("headers", {})}, **kwargs)
        found = CSRF.search(response.get_data(as_text=True))
        if found:
            self.token = found.group(1)
        return response

    def post(self, url, data=None, csrf=True, **kwargs):
        data = dict(data or {})
        if csrf:
            if self.token is None:
                self.get("/signin")
            data.setdefault("csrf_token", self.token)
        return self.client.post(url, data=data, headers={**self.headers, **kwargs.pop("headers", {})}, **kwargs)

    def sign_in(self, name, password):
        self.get("/signin")
        response = self.post("/signin", {"username": name, "password": password})
        self.name = name
        if response.status_code == 302:  # a new session has a new CSRF token: read it from the start page
            self.get(response.headers["Location"])
        return response


def signed_in(app, identity, name, role, groups=(), password=None):
    """A new user with a password, signed in: its Browser."""
    password = password or f"secret-{name}"
    identity.add_user(name, role, groups)
    identity.set_password(name, password)
    browser = Browser(app)
    assert browser.sign_in(name, password).status_code == 302
    return browser
