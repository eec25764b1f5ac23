#!/usr/bin/python3
"""page.py: the token page in headless Chromium, driven by Selenium, against
the real stack that page.sh starts (lighttpd + spawn-fcgi workers).  Every
step is a TAP line; axe-core, injected by the driver, checks each step and
any violation of impact serious or critical fails it; each step leaves a
screenshot at 1280 and 320 px wide in SHOTS.

Environment: PAGE_URL (the page), API_URL (the API root, for the second
client), EMAIL, PASSWORD, AXE (axe.min.js), SHOTS (a directory).
"""
import http.server
import json
import os
import re
import sys
import threading
import time
import urllib.error
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException, TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

PAGE = os.environ["PAGE_URL"]
API = os.environ["API_URL"]
EMAIL = os.environ["EMAIL"]
PASSWORD = os.environ["PASSWORD"]
AXE = open(os.environ["AXE"], encoding="utf-8").read()
SHOTS = os.environ["SHOTS"]
MINTED = os.environ.get("MINTED")
EXPIRED_SESSION = os.environ["EXPIRED_SESSION"]
XSS = "<img src=x onerror=alert(1)>"
PAT = re.compile(r"^[1-9][0-9]*\|pgt_[A-Za-z0-9]{40}[0-9a-f]{8}$")

n = 0
failed = 0
fails = []
skip = None


def fail(msg):
    fails.append(msg)


def remember(secret):
    """Note a secret's 40 random characters, for page.sh to look for in logs."""
    if MINTED and secret and len(secret) >= 48:
        with open(MINTED, "a", encoding="utf-8") as f:
            f.write(secret[-48:-8] + "\n")


def step(name, fn):
    """Run one case; print its TAP line."""
    global n, failed, fails, skip
    fails, skip = [], None
    try:
        fn()
    except Exception as e:  # a step that blows up is a failure, not a crash
        fails.append("%s: %s" % (type(e).__name__, str(e).splitlines()[0] if str(e) else ""))
    if not fails:
        try:
            check_page(name)
        except Exception as e:
            fails.append("axe or screenshot: %s" % e)
    n += 1
    for f in fails:
        print("# FAIL: " + f)
    if fails:
        failed += 1
        print("not ok %d - %s" % (n, name))
    elif skip:
        print("ok %d - %s # SKIP %s" % (n, name, skip))
    else:
        print("ok %d - %s" % (n, name))
    sys.stdout.flush()


def check_page(name):
    """axe-core on the page as it is now, then the screenshots."""
    if not d.execute_script("return typeof axe !== 'undefined'"):
        d.execute_script(AXE)
    res = d.execute_async_script(
        "var done = arguments[arguments.length - 1];"
        "axe.run(document).then(function (r) { done(r.violations.map(function (v) {"
        "  return {id: v.id, impact: v.impact, help: v.help,"
        "          nodes: v.nodes.map(function (x) { return x.target.join(' '); })}; })); },"
        "  function (e) { done([{id: 'axe-error', impact: 'critical', help: String(e), nodes: []}]); });")
    for v in res:
        line = "axe %s (%s): %s at %s" % (v["id"], v["impact"], v["help"], ", ".join(v["nodes"][:3]))
        if v["impact"] in ("serious", "critical"):
            fails.append(line)
        else:
            print("# note: " + line)
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:50]
    d.save_screenshot(os.path.join(SHOTS, "%02d-%s-1280.png" % (n + 1, slug)))
    d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                      {"width": 320, "height": 800, "deviceScaleFactor": 1, "mobile": True})
    try:
        overflow = d.execute_script(
            "return document.documentElement.scrollWidth > window.innerWidth + 1")
        if overflow:
            fails.append("the page is wider than 320 px")
        d.save_screenshot(os.path.join(SHOTS, "%02d-%s-320.png" % (n + 1, slug)))
    finally:
        d.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def wait(cond, what, timeout=10):
    try:
        return WebDriverWait(d, timeout).until(lambda _: cond())
    except TimeoutException:
        fail("timed out waiting for " + what)
        return None


def by_id(i):
    return d.find_element(By.ID, i)


def visible(i):
    return by_id(i).is_displayed()


def text(i):
    return by_id(i).text


def no_alert():
    try:
        a = d.switch_to.alert
        fail("a JavaScript alert opened: %r" % a.text)
        a.dismiss()
    except NoAlertPresentException:
        pass


def api(method, path, session=None, body=None, headers=None):
    """The second client: urllib straight to the API."""
    req = urllib.request.Request(API + path, method=method, headers=headers or {},
                                 data=json.dumps(body).encode() if body is not None else None)
    if session:
        req.add_header("Authorization", "Bearer " + session)
    if body is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def session():
    return d.execute_script("return sessionStorage.getItem('patgate.session')")


def type_into(i, value):
    e = by_id(i)
    e.clear()
    e.send_keys(value)


def login(password):
    type_into("login-email", EMAIL)
    type_into("login-password", password)
    by_id("login-password").send_keys(Keys.ENTER)


def names():
    # In one script: the list may be drawn again between two reads.
    return d.execute_script(
        "return [].map.call(document.querySelectorAll('#token-list h3'),"
        " function (h) { return h.textContent; })")


def create(name):
    type_into("create-name", name)
    by_id("create-submit").click()


def new_token():
    wait(lambda: visible("new-token"), "the new token")
    tok = by_id("new-token-value").get_attribute("value")
    remember(tok)
    return tok


# ---------------------------------------------------------------- steps

def s_headers():
    # The answers themselves: CSP, nosniff, types, ETag and 304.
    for f, typ in (("", "text/html"), ("app.js", "text/javascript"), ("app.css", "text/css")):
        with urllib.request.urlopen(PAGE + f, timeout=10) as r:
            h = r.headers
            if h.get("Content-Security-Policy") != "default-src 'self'; frame-ancestors 'none'":
                fail("%s: CSP %r" % (f or "/", h.get("Content-Security-Policy")))
            if h.get("X-Content-Type-Options") != "nosniff":
                fail("%s: no nosniff" % f)
            if not (h.get("Content-Type") or "").startswith(typ):
                fail("%s: Content-Type %r" % (f, h.get("Content-Type")))
            etag = h.get("ETag")
        req = urllib.request.Request(PAGE + f, headers={"If-None-Match": etag or '"x"'})
        try:
            urllib.request.urlopen(req, timeout=10)
            fail("%s: If-None-Match with its ETag did not give 304" % (f or "/"))
        except urllib.error.HTTPError as e:
            if e.code != 304:
                fail("%s: If-None-Match gave %d" % (f or "/", e.code))
    d.get(PAGE)
    wait(lambda: visible("login-section"), "the login form")
    if d.execute_script("return document.querySelector('[style]') !== null"):
        fail("an inline style= attribute")
    if d.execute_script("return [].some.call(document.scripts, function (s) { return !s.src; })"):
        fail("an inline script")


def s_wrong_password():
    login("not the password")
    wait(lambda: "Wrong email or password" in text("login-error"), "the wrong-password message")
    if session():
        fail("a session after a wrong password")


def s_login():
    login(PASSWORD)
    wait(lambda: visible("app-section"), "the token list")
    wait(lambda: visible("list-empty"), "the empty list")
    s = session()
    if not s:
        fail("no session in sessionStorage")
    remember(s)
    if d.execute_script("return localStorage.length") != 0:
        fail("something in localStorage")
    if d.get_cookies():
        fail("a cookie: %r" % d.get_cookies())


def s_invalid():
    create("   ")
    wait(lambda: text("create-name-error") != "", "the name's error at its field")
    if by_id("create-name").get_attribute("aria-invalid") != "true":
        fail("the name field is not marked invalid")
    if d.switch_to.active_element != by_id("create-name"):
        fail("the focus is not on the name field")
    if "name" not in text("create-name-error").lower():
        fail("the error at the name says %r" % text("create-name-error"))


state = {}


def s_create_xss():
    by_id("create-abilities").send_keys("read, write")
    by_id("create-allowed_ips").send_keys("127.0.0.1/32")
    by_id("create-paths").send_keys("/reports/*")
    create(XSS)
    tok = new_token()
    if not PAT.match(tok or ""):
        fail("not a PAT: %r" % tok)
    state["tok"] = tok
    if "not be shown again" not in text("new-token"):
        fail("no warning that the token will not be shown again")
    wait(lambda: XSS in names(), "the token in the list, as text")
    no_alert()
    if d.execute_script("return document.querySelectorAll('#token-list img').length") != 0:
        fail("the name became an element")
    if text("create-name-error"):
        fail("the old error is still shown")
    by_id("copy-token").click()
    wait(lambda: "copied" in text("status") or "selected" in text("status"), "the copy's message")


def s_reload():
    tok = state.get("tok")
    # The token used once at the gate: it has been used, and from where.
    st, _ = api("GET", "auth/check", headers={"Authorization": "Bearer %s" % tok,
                "X-Original-Method": "GET", "X-Original-URI": "/reports/daily"})
    if st != 200:
        fail("the new token at the gate: %d" % st)
    # A token that expires in two seconds, to be listed as expired.
    soon = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 2))
    made, short = api("POST", "user/api-tokens", session(), {"name": "short-lived", "expires_at": soon})
    remember((short or {}).get("data", {}).get("token"))
    if made != 201:
        fail("creating a short-lived token: %d %r" % (made, short))
    time.sleep(max(0, time.mktime(time.strptime(soon, "%Y-%m-%dT%H:%M:%SZ")) - time.mktime(time.gmtime()) + 1.2))
    d.refresh()
    wait(lambda: visible("app-section"), "the list after a reload (the session kept)")
    wait(lambda: XSS in names(), "the token listed after the reload")
    no_alert()
    if tok and tok in d.page_source:
        fail("the token is in the page after a reload")
    stored = d.execute_script(
        "var s = []; for (var i = 0; i < sessionStorage.length; i++)"
        " s.push(sessionStorage.getItem(sessionStorage.key(i))); return s.join(' ')")
    if tok and tok in stored:
        fail("the token is in sessionStorage")
    if visible("new-token"):
        fail("the new-token panel is shown after a reload")
    li = d.find_elements(By.CSS_SELECTOR, "#token-list li.token")
    if li and "read, write" not in li[0].text:
        fail("the abilities are not listed: %r" % li[0].text)
    # What the API says of the token, the page shows: bindings and the
    # addresses it was used from where the API lists them.
    st, listed = api("GET", "user/api-tokens", session())
    t = [x for x in (listed or {}).get("data", []) if x.get("name") == XSS]
    shown = li[0].text if li else ""
    if not t:
        fail("the API does not list the token")
    else:
        t = t[0]
        if t.get("last_used_at") and "Last used\nnever" in shown:
            fail("the page says never used: %r" % shown)
        for key, label in (("allowed_ips", "Allowed addresses"), ("paths", "Paths")):
            for v in t.get(key) or []:
                if label not in shown or v not in shown:
                    fail("%s %r not shown: %r" % (key, v, shown))
        for u in t.get("last_used_ips") or []:
            if "Used from" not in shown or u["ip"] not in shown:
                fail("last used from %r not shown: %r" % (u["ip"], shown))
        print("# the API lists: " + ", ".join(k for k in ("last_used_at", "last_used_ips", "allowed_ips", "paths")
                                              if t.get(k)))
    wait(lambda: "short-lived" in names(), "the short-lived token listed")
    li = d.find_elements(By.CSS_SELECTOR, "#token-list li.token")
    if len(li) != 2 or "expired" not in li[1].text or "Expired" not in li[1].text:
        fail("the short-lived token is not marked expired: %r" % [e.text for e in li])
    if len(li) == 2 and li[0].find_elements(By.CSS_SELECTOR, ".badge"):
        fail("the live token is marked expired")
    if made == 201:
        st, _ = api("DELETE", "user/api-tokens/" + short["data"]["id"], session())
        print("# revoking the expired token through the API: %d" % st)


def s_revoke():
    btn = d.find_element(By.CSS_SELECTOR, "#token-list button.danger")
    btn.click()
    wait(lambda: by_id("confirm").get_attribute("open") is not None, "the dialog")
    if d.switch_to.active_element != by_id("confirm-no"):
        fail("the dialog does not start on Cancel")
    # Escape is a cancel: nothing revoked.
    d.switch_to.active_element.send_keys(Keys.ESCAPE)
    wait(lambda: by_id("confirm").get_attribute("open") is None, "Escape to close the dialog")
    if XSS not in names():
        fail("Escape revoked the token")
    btn = d.find_element(By.CSS_SELECTOR, "#token-list button.danger")
    btn.click()
    wait(lambda: by_id("confirm").get_attribute("open") is not None, "the dialog again")
    # The keyboard alone: Tab from Cancel to Revoke, then Enter.
    d.switch_to.active_element.send_keys(Keys.TAB)
    d.switch_to.active_element.send_keys(Keys.ENTER)
    wait(lambda: XSS not in names(), "the revoked token to leave the list")
    wait(lambda: "revoked" in text("status"), "the revoke's message")
    st, body = api("GET", "user/api-tokens", session())
    if st != 200 or XSS in [t["name"] for t in body["data"]]:
        fail("the API still lists the token: %d %r" % (st, body))


def s_rotate():
    global skip
    create("rotate me")
    first = new_token()
    by_id("done-token").click()
    wait(lambda: "rotate me" in names(), "the token to rotate")
    d.find_element(By.CSS_SELECTOR, '#token-list button[aria-label="Rotate rotate me"]').click()
    wait(lambda: by_id("confirm").get_attribute("open") is not None, "the dialog")
    by_id("confirm-yes").click()
    wait(lambda: (visible("new-token") and by_id("new-token-value").get_attribute("value") not in ("", first))
         or re.search(r"\((404|405)\)", text("alert")), "the rotated token or the server's refusal")
    if re.search(r"\((404|405)\)", text("alert")):
        skip = "rotate not served"
        return
    tok = by_id("new-token-value").get_attribute("value")
    remember(tok)
    if not PAT.match(tok or "") or tok == first:
        fail("the rotation's token: %r" % tok)
    wait(lambda: names().count("rotate me") == 1, "one token named rotate me")
    wait(lambda: "Replaces" in text("token-list"), "the rotated_from shown")
    by_id("done-token").click()


def s_session_revoked():
    # Another client ends the session; the next call brings back the login
    # form, and what was typed stays.
    st, _ = api("POST", "auth/logout", session())
    if st != 200:
        fail("logout from the second client: %d" % st)
    type_into("create-name", "typed before the session ended")
    by_id("create-submit").click()
    wait(lambda: visible("login-section"), "the login form")
    if "session has ended" not in text("alert"):
        fail("no word that the session ended: %r" % text("alert"))
    login(PASSWORD)
    wait(lambda: visible("app-section"), "the token list again")
    remember(session())
    if by_id("create-name").get_attribute("value") != "typed before the session ended":
        fail("the typed name was lost: %r" % by_id("create-name").get_attribute("value"))


def s_session_expired():
    # The session the page holds runs out (a real one, two seconds long,
    # made by the CLI): the next call brings back the login form with a
    # word why, and what was typed stays.
    st, _ = api("GET", "user/api-tokens", EXPIRED_SESSION)
    if st != 401:
        fail("the expired session still works: %d" % st)
    d.execute_script("sessionStorage.setItem('patgate.session', arguments[0])", EXPIRED_SESSION)
    type_into("create-name", "typed before the session expired")
    by_id("create-submit").click()
    wait(lambda: visible("login-section"), "the login form")
    if "session has ended" not in text("alert"):
        fail("no word that the session ended: %r" % text("alert"))
    login(PASSWORD)
    wait(lambda: visible("app-section"), "the token list again")
    remember(session())
    if session() == EXPIRED_SESSION:
        fail("the expired session is still stored")
    if by_id("create-name").get_attribute("value") != "typed before the session expired":
        fail("the typed name was lost: %r" % by_id("create-name").get_attribute("value"))


def s_logout():
    s = session()
    by_id("logout").click()
    wait(lambda: visible("login-section"), "the login form after logging out")
    if session():
        fail("the session is still stored")
    st, _ = api("GET", "user/api-tokens", s)
    if st != 401:
        fail("the session still works after logging out: %d" % st)


class Unavailable(http.server.BaseHTTPRequestHandler):
    """The page from the real server; every API call answered 503."""

    def do_GET(self):
        if self.path.startswith("/tokens/"):
            with urllib.request.urlopen(PAGE + self.path[len("/tokens/"):], timeout=10) as r:
                body = r.read()
                self.send_response(200)
                for k in ("Content-Type", "Content-Security-Policy", "X-Content-Type-Options"):
                    self.send_header(k, r.headers[k])
        else:
            self.unavailable()
            return
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        self.unavailable()

    def unavailable(self):
        body = b'{"message": "The token store is unavailable."}'
        self.send_response(503)
        self.send_header("Content-Type", "application/json")
        self.send_header("Retry-After", "7")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def s_unavailable():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Unavailable)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        d.get("http://127.0.0.1:%d/tokens/" % srv.server_address[1])
        wait(lambda: visible("login-section"), "the login form at the unavailable server")
        login(PASSWORD)
        wait(lambda: "503" in text("alert") and "7 seconds" in text("alert"),
             "the 503 shown as a message")
    finally:
        srv.shutdown()
        srv.server_close()


def s_unreachable():
    # The page from the step before, its server now gone.
    login(PASSWORD)
    wait(lambda: "cannot be reached" in text("alert"), "the network failure shown as a message")


opts = webdriver.ChromeOptions()
opts.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
          "--window-size=1280,900", "--no-first-run", "--disable-extensions"):
    opts.add_argument(a)
d = webdriver.Chrome(service=Service(os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")),
                     options=opts)
d.set_script_timeout(30)
t0 = time.time()
try:
    step("the page, its script and style load with CSP, nosniff, ETag and 304; no inline script or style", s_headers)
    step("a wrong password is shown as such", s_wrong_password)
    step("login keeps the session in sessionStorage only", s_login)
    step("a 422 shows its message at the field", s_invalid)
    step("create: the name is shown as text, the token once with a warning and a copy button", s_create_xss)
    step("after a reload the token is nowhere in the page; an expired token is marked", s_reload)
    step("revoke after the page's own dialog (Escape cancels; keyboard confirms)", s_revoke)
    step("rotate gives a new token that replaces the old", s_rotate)
    step("a session ended elsewhere brings back the login form, keeping what was typed", s_session_revoked)
    step("an expired session brings back the login form, keeping what was typed", s_session_expired)
    step("logout ends the session", s_logout)
    step("a 503 from the server is shown as a message", s_unavailable)
    step("a network failure is shown as a message", s_unreachable)
finally:
    d.quit()
print("# %.1f s in the browser" % (time.time() - t0))
sys.exit(1 if failed else 0)
