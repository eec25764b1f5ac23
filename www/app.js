/*
 * app.js: the token page.  It speaks only patgate's HTTP API, found
 * relative to the page (../api/v1/...), so it works wherever /tokens/ is
 * served.  Every value from the API is put in the page as text, never as
 * HTML.  The session token lives in sessionStorage (this tab only, gone when
 * it closes); a new personal access token lives only in the page until the
 * person dismisses it.
 */
"use strict";

(function () {
	var SESSION_KEY = "patgate.session";
	var API = "../api/v1/";
	var CREATE_FIELDS = ["name", "abilities", "expires_at", "allowed_ips", "paths"];

	function $(id) { return document.getElementById(id); }

	/* An element with text content (never HTML) and attributes. */
	function el(tag, text, attrs) {
		var e = document.createElement(tag), k;
		if (text !== undefined && text !== null)
			e.textContent = String(text);
		for (k in attrs || {})
			e.setAttribute(k, attrs[k]);
		return e;
	}

	function session() {
		try { return sessionStorage.getItem(SESSION_KEY); } catch (e) { return null; }
	}
	function setSession(tok) {
		try {
			if (tok) sessionStorage.setItem(SESSION_KEY, tok);
			else sessionStorage.removeItem(SESSION_KEY);
		} catch (e) { /* storage refused: the page works until reloaded */ }
	}

	/* ------------------------------------------------------------ messages */

	function say(text) {
		$("alert").textContent = "";
		$("status").textContent = text;
	}
	function warn(text) {
		$("status").textContent = "";
		$("alert").textContent = text;
	}
	function quiet() {
		$("status").textContent = "";
		$("alert").textContent = "";
	}

	/* What to tell a person about an answer that is not a success. */
	function problem(what, r) {
		if (r.status === 0)
			return what + ": the server cannot be reached. Check the connection and try again.";
		if (r.status === 503) {
			var after = r.headers && r.headers.get("Retry-After");
			return what + ": the service is unavailable right now (503)" +
			    (after ? "; try again in " + after + " seconds." : "; try again shortly.");
		}
		var msg = r.data && typeof r.data.message === "string" ? r.data.message : "";
		return what + " failed (" + r.status + ")" + (msg ? ": " + msg : ".");
	}

	/* ------------------------------------------------------------ the API */

	/*
	 * Call the API; resolves to {status, data, headers}, status 0 when the
	 * server could not be reached.  Never rejects.
	 */
	function api(method, path, body, withSession) {
		var opts = { method: method, headers: {}, cache: "no-store", credentials: "omit" };
		if (withSession)
			opts.headers.Authorization = "Bearer " + session();
		if (body !== undefined) {
			opts.headers["Content-Type"] = "application/json";
			opts.body = JSON.stringify(body);
		}
		return fetch(API + path, opts).then(function (res) {
			return res.text().then(function (text) {
				var data = null;
				try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
				return { status: res.status, data: data, headers: res.headers };
			});
		}, function () {
			return { status: 0, data: null, headers: null };
		});
	}

	/*
	 * An API call with the session: a 401 means the session is over (expired,
	 * logged out elsewhere), so the login form comes back; what was typed in
	 * the create form stays where it is.
	 */
	function authed(method, path, body) {
		return api(method, path, body, true).then(function (r) {
			if (r.status === 401) {
				sessionEnded("Your session has ended. Log in again to go on.");
				throw r;
			}
			return r;
		});
	}

	/* ------------------------------------------------------------ views */

	function showLogin() {
		$("app-section").hidden = true;
		$("logout").hidden = true;
		$("login-section").hidden = false;
		$("login-email").focus();
	}

	function showApp() {
		$("login-section").hidden = true;
		$("app-section").hidden = false;
		$("logout").hidden = false;
		loadList();
	}

	function sessionEnded(text) {
		setSession(null);
		hideToken();
		showLogin();
		warn(text);
	}

	/* ------------------------------------------------------------ login */

	function login(ev) {
		ev.preventDefault();
		var email = $("login-email").value.trim(), pw = $("login-password").value;
		$("login-error").textContent = "";
		if (!email || !pw) {
			$("login-error").textContent = "Enter your email and password.";
			return;
		}
		$("login-submit").disabled = true;
		api("POST", "auth/login", { email: email, password: pw }, false).then(function (r) {
			$("login-submit").disabled = false;
			if (r.status === 200 && r.data && r.data.data && r.data.data.token) {
				setSession(r.data.data.token);
				$("login-password").value = "";
				say("Logged in as " + email + ".");
				showApp();
			} else if (r.status === 401) {
				$("login-error").textContent = "Wrong email or password.";
				warn("Wrong email or password.");
			} else if (r.status === 429) {
				var after = r.headers.get("Retry-After");
				var text = "Too many failed logins. Try again in " +
				    (after ? after + " seconds." : "a while.");
				$("login-error").textContent = text;
				warn(text);
			} else {
				warn(problem("Logging in", r));
			}
		});
	}

	function logout() {
		api("POST", "auth/logout", undefined, true).then(function (r) {
			setSession(null);
			hideToken();
			showLogin();
			if (r.status === 200 || r.status === 401)
				say("Logged out.");
			else
				warn(problem("Logging out", r) + " The session was forgotten here.");
		});
	}

	/* ------------------------------------------------------------ the list */

	/* "2026-11-28T10:00:00Z" as "2026-11-28 10:00 UTC" in a <time>. */
	function when(iso) {
		if (!iso)
			return el("span", "never");
		var text = String(iso).replace("T", " ").replace(/:\d\dZ$/, " UTC");
		return el("time", text, { datetime: String(iso) });
	}

	function isExpired(t) {
		return !!t.expires_at && Date.parse(t.expires_at) <= Date.now();
	}

	function row(dl, term, value) {
		dl.appendChild(el("dt", term));
		var dd = el("dd");
		if (value instanceof Node)
			dd.appendChild(value);
		else
			dd.textContent = String(value);
		dl.appendChild(dd);
	}

	function list(values) {
		return (values || []).map(String).join(", ");
	}

	function renderToken(t) {
		var li = el("li", null, { "class": "token" });
		var head = el("div", null, { "class": "token-head" });
		head.appendChild(el("h3", t.name));
		if (isExpired(t))
			head.appendChild(el("span", "expired", { "class": "badge" }));
		li.appendChild(head);

		var dl = el("dl");
		row(dl, "Abilities", t.abilities && t.abilities.length ? list(t.abilities) : "none");
		row(dl, "Created", when(t.created_at));
		row(dl, "Last used", t.last_used_at ? when(t.last_used_at) : "never");
		if (Array.isArray(t.last_used_ips) && t.last_used_ips.length) {
			var ul = el("ul", null, { "class": "ips" });
			t.last_used_ips.forEach(function (u) {
				var item = el("li", u && u.ip !== undefined ? u.ip : u);
				if (u && u.at) {
					item.appendChild(document.createTextNode(" at "));
					item.appendChild(when(u.at));
				}
				ul.appendChild(item);
			});
			row(dl, "Used from", ul);
		}
		if (t.expires_at) {
			var exp = when(t.expires_at);
			row(dl, isExpired(t) ? "Expired" : "Expires", exp);
		} else {
			row(dl, "Expires", "never");
		}
		if (Array.isArray(t.allowed_ips))
			row(dl, "Allowed addresses", list(t.allowed_ips));
		if (Array.isArray(t.paths))
			row(dl, "Paths", list(t.paths));
		if (t.rate_limit)
			row(dl, "Rate limit", t.rate_limit + " requests a minute");
		if (t.rotated_from)
			row(dl, "Replaces", t.rotated_from);
		li.appendChild(dl);

		var actions = el("div", null, { "class": "actions" });
		var rot = el("button", "Rotate", { type: "button", "class": "secondary",
		    "aria-label": "Rotate " + t.name });
		rot.addEventListener("click", function () { rotate(t, rot); });
		var rev = el("button", "Revoke", { type: "button", "class": "danger",
		    "aria-label": "Revoke " + t.name });
		rev.addEventListener("click", function () { revoke(t, rev); });
		actions.appendChild(rot);
		actions.appendChild(rev);
		li.appendChild(actions);
		return li;
	}

	function loadList() {
		return authed("GET", "user/api-tokens").then(function (r) {
			var ul = $("token-list");
			if (r.status !== 200 || !r.data || !Array.isArray(r.data.data)) {
				warn(problem("Loading your tokens", r));
				return;
			}
			ul.textContent = "";
			r.data.data.forEach(function (t) { ul.appendChild(renderToken(t)); });
			$("list-empty").hidden = r.data.data.length !== 0;
		}, function () { /* the session ended: the login form is back */ });
	}

	/* ------------------------------------------------------------ the new token */

	function showToken(tok) {
		$("new-token-value").value = tok;
		$("new-token").hidden = false;
		$("new-token-title").focus();
	}

	/* Forget the new token: it is in the page nowhere afterwards. */
	function hideToken() {
		$("new-token-value").value = "";
		$("new-token").hidden = true;
	}

	function copyToken() {
		var input = $("new-token-value");
		var selectIt = function (text) {
			input.focus();
			input.select();
			say(text);
		};
		if (navigator.clipboard && navigator.clipboard.writeText) {
			navigator.clipboard.writeText(input.value).then(function () {
				say("The token is copied to the clipboard.");
			}, function () {
				selectIt("The token is selected: press Ctrl+C (or Cmd+C) to copy it.");
			});
		} else {
			selectIt("The token is selected: press Ctrl+C (or Cmd+C) to copy it.");
		}
	}

	/* ------------------------------------------------------------ create */

	function splitList(s) {
		return s.split(/[,\s]+/).filter(function (x) { return x !== ""; });
	}

	/* An RFC 3339 time, to the second. */
	function rfc3339(d) {
		return d.toISOString().replace(/\.\d{3}Z$/, "Z");
	}

	function clearFieldErrors() {
		CREATE_FIELDS.forEach(function (f) {
			$("create-" + f + "-error").textContent = "";
			var input = fieldInput(f);
			if (input) input.removeAttribute("aria-invalid");
		});
	}

	function fieldInput(f) {
		if (f === "expires_at")
			return $("create-expiry").value === "date" ? $("create-date") : $("create-expiry");
		return $("create-" + f);
	}

	/* Put each 422 sentence at its field ("abilities.2" belongs to abilities). */
	function showFieldErrors(errors) {
		var first = null, other = [];
		Object.keys(errors || {}).forEach(function (key) {
			var f = key.split(/[.\[]/)[0];
			var sentences = [].concat(errors[key]).map(String).join(" ");
			if (CREATE_FIELDS.indexOf(f) < 0) {
				other.push(sentences);
				return;
			}
			var p = $("create-" + f + "-error");
			p.textContent = (p.textContent ? p.textContent + " " : "") + sentences;
			var input = fieldInput(f);
			input.setAttribute("aria-invalid", "true");
			if (!first) first = input;
		});
		if (first) first.focus();
		return other;
	}

	function create(ev) {
		ev.preventDefault();
		clearFieldErrors();
		var body = { name: $("create-name").value };
		var abilities = splitList($("create-abilities").value);
		if (abilities.length) body.abilities = abilities;
		var expiry = $("create-expiry").value;
		if (expiry === "none") {
			body.expires_at = null;
		} else if (expiry === "date") {
			var d = $("create-date").value;
			if (!/^\d{4}-\d\d-\d\d$/.test(d)) {
				$("create-expires_at-error").textContent = "Choose a date.";
				$("create-date").setAttribute("aria-invalid", "true");
				$("create-date").focus();
				return;
			}
			body.expires_at = d + "T23:59:59Z";
		} else {
			body.expires_at = rfc3339(new Date(Date.now() + Number(expiry) * 86400000));
		}
		/* Bindings only when filled: a server without them ignores nothing. */
		var ips = splitList($("create-allowed_ips").value);
		if (ips.length) body.allowed_ips = ips;
		var paths = splitList($("create-paths").value);
		if (paths.length) body.paths = paths;

		$("create-submit").disabled = true;
		authed("POST", "user/api-tokens", body).then(function (r) {
			$("create-submit").disabled = false;
			if (r.status === 201 && r.data && r.data.data && r.data.data.token) {
				$("create-form").reset();
				$("create-date-field").hidden = true;
				say("Token \u201c" + r.data.data.name + "\u201d created.");
				showToken(r.data.data.token);
				loadList();
			} else if (r.status === 422) {
				var other = showFieldErrors(r.data && r.data.errors);
				warn((r.data && r.data.message ? r.data.message : "Some fields need fixing.") +
				    (other.length ? " " + other.join(" ") : ""));
			} else {
				warn(problem("Creating the token", r));
			}
		}, function () {
			$("create-submit").disabled = false;
		});
	}

	/* ------------------------------------------------------------ confirm */

	var confirmDone = null, confirmOpener = null;

	/* Ask in the page's own dialog; then(yes) runs only on Confirm. */
	function ask(title, text, yesLabel, opener, then) {
		var d = $("confirm");
		$("confirm-title").textContent = title;
		$("confirm-text").textContent = text;
		$("confirm-yes").textContent = yesLabel;
		confirmDone = then;
		confirmOpener = opener;
		d.showModal();
		$("confirm-no").focus();
	}

	function closeConfirm(yes) {
		var d = $("confirm"), then = confirmDone;
		confirmDone = null;
		if (d.open) d.close();
		if (confirmOpener && document.body.contains(confirmOpener))
			confirmOpener.focus();
		if (yes && then) then();
	}

	/* ------------------------------------------------------------ revoke, rotate */

	function revoke(t, button) {
		ask("Revoke \u201c" + t.name + "\u201d?",
		    "Every program using this token loses access at once. This cannot be undone.",
		    "Revoke", button, function () {
			authed("DELETE", "user/api-tokens/" + encodeURIComponent(t.id)).then(function (r) {
				if (r.status === 200) {
					say("Token \u201c" + t.name + "\u201d revoked.");
					$("list-title").focus();
				} else {
					warn(problem("Revoking the token", r));
				}
				loadList();
			}, function () {});
		});
	}

	function rotate(t, button) {
		ask("Rotate \u201c" + t.name + "\u201d?",
		    "A new token with the same name, abilities and bindings replaces it; the old one stops working at once.",
		    "Rotate", button, function () {
			authed("POST", "user/api-tokens/" + encodeURIComponent(t.id) + "/rotate").then(function (r) {
				if (r.status === 201 && r.data && r.data.data && r.data.data.token) {
					say("Token \u201c" + t.name + "\u201d rotated.");
					showToken(r.data.data.token);
				} else {
					warn(problem("Rotating the token", r));
				}
				loadList();
			}, function () {});
		});
	}

	/* ------------------------------------------------------------ start */

	document.addEventListener("DOMContentLoaded", function () {
		$("login-form").addEventListener("submit", login);
		$("create-form").addEventListener("submit", create);
		$("logout").addEventListener("click", logout);
		$("copy-token").addEventListener("click", copyToken);
		$("done-token").addEventListener("click", function () {
			hideToken();
			quiet();
			$("create-name").focus();
		});
		$("create-expiry").addEventListener("change", function () {
			$("create-date-field").hidden = $("create-expiry").value !== "date";
		});
		$("confirm-yes").addEventListener("click", function () { closeConfirm(true); });
		$("confirm-no").addEventListener("click", function () { closeConfirm(false); });
		/* Escape closes the dialog: a cancel. */
		$("confirm").addEventListener("cancel", function (e) {
			e.preventDefault();
			closeConfirm(false);
		});
		if (session())
			showApp();
		else
			showLogin();
	});
})();
