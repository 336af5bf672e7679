"""A small HTTP client for the production smoke and the load script, on the standard library only:
cookies, CSRF, redirects not followed (a test wants to see the 302), and the headers a
TLS-terminating proxy would add.

The stack runs DEBUG=false behind a pretend proxy (TRUST_X_FORWARDED_PROTO=true): every request
carries X-Forwarded-Proto: https, so Django takes it as https (no redirect, Secure cookies), and a
POST carries the https Referer a browser would send (Django's CSRF check for https requests). The
cookie jar returns the Secure cookies over this plain-http hop, as the proxy would.
"""

import re
import urllib.error
import urllib.request
from html.parser import HTMLParser
from http.cookiejar import CookieJar, DefaultCookiePolicy
from urllib.parse import urlencode, urlsplit


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # urllib then raises HTTPError(302), returned as a response below


class Response:
    def __init__(self, status: int, headers, body: str):
        self.status, self.headers, self.text = status, headers, body

    @property
    def location(self) -> str:
        return self.headers.get("Location", "") if self.headers else ""


class Client:
    def __init__(self, base: str, timeout: float = 30.0):
        self.base = base.rstrip("/")
        self.host = urlsplit(self.base).netloc
        self.timeout = timeout
        policy = DefaultCookiePolicy(secure_protocols=("https", "wss", "http"))
        self.jar = CookieJar(policy)
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect()
        )

    def request(self, method: str, path: str, data=None, headers=None) -> Response:
        sent = {"X-Forwarded-Proto": "https", **(headers or {})}
        body = None
        if data is not None:
            body = urlencode(data, doseq=True).encode()
            sent["Content-Type"] = "application/x-www-form-urlencoded"
            sent["Referer"] = f"https://{self.host}{path}"
        req = urllib.request.Request(self.base + path, data=body, headers=sent, method=method)
        try:
            with self.opener.open(req, timeout=self.timeout) as r:
                return Response(r.status, r.headers, r.read().decode("utf-8", "replace"))
        except urllib.error.HTTPError as e:
            return Response(e.code, e.headers, e.read().decode("utf-8", "replace"))

    def get(self, path: str, **kw) -> Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, data: dict, **kw) -> Response:
        return self.request("POST", path, data=data, **kw)

    def cookie(self, name: str) -> str:
        return next((c.value for c in self.jar if c.name == name), "")

    def log_in(self, username: str, password: str) -> Response:
        page = self.get("/accounts/login/")
        if page.status != 200:
            raise RuntimeError(f"log-in page answered {page.status}")
        form = form_fields(page.text, has="username")
        form.update(username=username, password=password)
        response = self.post("/accounts/login/", form)
        if response.status != 302:
            raise RuntimeError(f"log-in of {username} answered {response.status}, not 302")
        return response


class _Forms(HTMLParser):
    """Every <form>: its action and the values a browser would post as they stand."""

    def __init__(self):
        super().__init__()
        self.forms, self._form, self._select, self._textarea = [], None, None, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self._form = {"action": a.get("action", ""), "fields": {}}
            self.forms.append(self._form)
        elif self._form is None:
            return
        elif tag == "input" and a.get("name"):
            kind = a.get("type", "text")
            if kind in ("submit", "button", "image", "file"):
                return
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            self._form["fields"][a["name"]] = a.get("value", "on" if kind == "checkbox" else "")
        elif tag == "select" and a.get("name"):
            self._select = a["name"]
            self._form["fields"].setdefault(self._select, None)
        elif tag == "option" and self._select:
            fields = self._form["fields"]
            if fields[self._select] is None or "selected" in a:
                fields[self._select] = a.get("value", "")
        elif tag == "textarea" and a.get("name"):
            self._textarea = a["name"]
            self._form["fields"][self._textarea] = ""

    def handle_data(self, data):
        if self._textarea:
            self._form["fields"][self._textarea] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None


def form_fields(html: str, *, has: str) -> dict:
    """The fields of the first form with a field named `has`, as a browser would post them."""
    parser = _Forms()
    parser.feed(html)
    for form in parser.forms:
        if has in form["fields"]:
            return {k: v or "" for k, v in form["fields"].items()}
    raise LookupError(f"no form with a field {has!r}")


def links(html: str, pattern: str) -> list[str]:
    """The hrefs matching `pattern` (a regex), in page order, without repeats."""
    seen = []
    for href in re.findall(r'href="([^"]+)"', html):
        href = href.replace("&amp;", "&")
        if re.search(pattern, href) and href not in seen:
            seen.append(href)
    return seen
