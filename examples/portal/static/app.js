// The portal's only script: forms post JSON to the API with the CSRF header; the WebAuthn
// and push pages drive the browser API and poll. No framework.
"use strict";
(() => {
  const csrf = document.body.dataset.csrf;
  const page = JSON.parse(document.body.dataset.page || "{}");
  const errorBox = document.querySelector(".error");
  const messageBox = document.querySelector(".message");

  function show(box, text) {
    if (!box) return;
    box.textContent = text || "";
    box.hidden = !text;
  }

  async function api(path, body) {
    const res = await fetch(path, {
      method: "POST",
      headers: { "content-type": "application/json", "x-csrf-token": csrf },
      body: JSON.stringify(body || {}),
      credentials: "same-origin",
    });
    let data = {};
    try { data = await res.json(); } catch (_) { data = { ok: false, message: res.statusText }; }
    return data;
  }

  // Where the browser goes after an answer of the API (the API says what happened; the
  // pages decide where that leads), else the form's data-next.
  function nextOf(data, fallback) {
    if (!data.ok) {
      if (data.error === "err_login_required") return "/login";
      if (data.error === "err_step_up") {
        sessionStorage.setItem("after_step_up", location.pathname);
        return "/stepup";
      }
      return null;
    }
    if (Array.isArray(data.recovery_codes)) return "/recovery";
    if (data.challenge) return "/factor";
    if (data.must_enroll) return "/mfa";
    if (data.stepped_up) {
      const back = sessionStorage.getItem("after_step_up") || "/settings";
      sessionStorage.removeItem("after_step_up");
      return back;
    }
    if (data.authenticated) {
      const actions = data.required_actions || [];
      // A password that must be changed comes first: the settings page says why.
      if (actions.includes("ChangePassword")) { sessionStorage.setItem("change_password", "1"); return "/settings"; }
      // A weak method was used (a short imported key): the methods page says which.
      if (actions.some((a) => a && a.ReplaceFactor)) return "/mfa";
      return actions.includes("OfferBiometricKey") ? "/offer-biometric" : "/settings";
    }
    if (data.completed_enrollment) return "/settings";
    // A password reset proved what it needs: the reset page asks for the new password.
    if (data.reset_password) { sessionStorage.setItem("reset_grant", data.reset_password); return "/password/reset"; }
    if (data.current) return "/login";
    return fallback || null;
  }

  function follow(data, el) {
    const ds = (el && el.dataset) || {};
    // New recovery codes travel in this answer only: the next page shows them once.
    if (data.ok && Array.isArray(data.recovery_codes)) sessionStorage.setItem("recovery_codes", JSON.stringify(data.recovery_codes));
    show(errorBox, data.ok ? "" : data.message);
    if (data.ok) show(messageBox, (data.awaiting_confirmation && ds.donePending) || ds.done || "");
    const next = nextOf(data, ds.next);
    // What was done is said on the next page too.
    if (next && data.ok && ds.done) sessionStorage.setItem("flash", ds.done);
    if (next) window.location.assign(next);
    return data;
  }

  // base64url <-> ArrayBuffer, for browsers without PublicKeyCredential.parse*FromJSON.
  const b64u = {
    decode(s) {
      const b = atob(s.replace(/-/g, "+").replace(/_/g, "/") + "==".slice(0, (4 - (s.length % 4)) % 4));
      return Uint8Array.from(b, (c) => c.charCodeAt(0)).buffer;
    },
    encode(buf) {
      let s = "";
      for (const x of new Uint8Array(buf)) s += String.fromCharCode(x);
      return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
    },
  };

  function creationOptions(pk) {
    if (PublicKeyCredential.parseCreationOptionsFromJSON) return PublicKeyCredential.parseCreationOptionsFromJSON(pk);
    const o = structuredClone(pk);
    o.challenge = b64u.decode(o.challenge);
    o.user.id = b64u.decode(o.user.id);
    (o.excludeCredentials || []).forEach((c) => { c.id = b64u.decode(c.id); });
    return o;
  }

  function requestOptions(pk) {
    if (PublicKeyCredential.parseRequestOptionsFromJSON) return PublicKeyCredential.parseRequestOptionsFromJSON(pk);
    const o = structuredClone(pk);
    o.challenge = b64u.decode(o.challenge);
    (o.allowCredentials || []).forEach((c) => { c.id = b64u.decode(c.id); });
    return o;
  }

  function credentialJSON(cred) {
    if (cred.toJSON) return cred.toJSON();
    const r = cred.response;
    const out = { id: cred.id, rawId: b64u.encode(cred.rawId), type: cred.type, clientExtensionResults: cred.getClientExtensionResults(), response: { clientDataJSON: b64u.encode(r.clientDataJSON) } };
    if (r.attestationObject) { out.response.attestationObject = b64u.encode(r.attestationObject); out.response.transports = r.getTransports ? r.getTransports() : []; }
    if (r.authenticatorData) { out.response.authenticatorData = b64u.encode(r.authenticatorData); out.response.signature = b64u.encode(r.signature); if (r.userHandle) out.response.userHandle = b64u.encode(r.userHandle); }
    return out;
  }

  const timeout = () => AbortSignal.timeout(120000);

  const flash = sessionStorage.getItem("flash");
  if (flash) { sessionStorage.removeItem("flash"); show(messageBox, flash); }

  // A link's token in the fragment (never sent to a server, never in a log): into the form,
  // then out of the address bar. Posted only when the person presses the button.
  document.querySelectorAll("form[data-token-hash]").forEach((form) => {
    if (!location.hash.startsWith("#token=")) return;
    let token = "";
    try { token = decodeURIComponent(location.hash.slice("#token=".length)); } catch (_) { token = ""; }
    history.replaceState(null, "", location.pathname);
    form.elements.token.value = token;
  });

  // A password reset whose second factor passed (or whose account has none): the new
  // password's form.
  const grant = sessionStorage.getItem("reset_grant");
  document.querySelectorAll("form[data-reset-password]").forEach((form) => {
    if (!grant || location.hash.startsWith("#token=")) return;
    form.elements.grant.value = grant;
    form.hidden = false;
    document.querySelectorAll("form[data-reset-start]").forEach((f) => { f.hidden = true; });
    form.addEventListener("submit", () => sessionStorage.removeItem("reset_grant"));
  });

  // Forms with data-api: post their fields as JSON.
  document.querySelectorAll("form[data-api]").forEach((form) => {
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const body = {};
      new FormData(form).forEach((v, k) => { body[k] = v; });
      form.querySelectorAll("input[type=checkbox]").forEach((c) => { body[c.name] = c.checked; });
      const data = await api(form.dataset.api, body);
      // Held back by the throttle at sign-in: offer the sign-in link.
      if (data.error === "err_throttled") document.querySelectorAll("details[data-link-offer]").forEach((d) => { d.open = true; });
      // A step whose next part is on this page (a sign-up's code): show it, with the flow.
      if (data.ok && form.dataset.reveal) {
        document.querySelectorAll(form.dataset.reveal).forEach((el) => {
          el.hidden = false;
          if (data.flow && el.elements && el.elements.flow) el.elements.flow.value = data.flow;
        });
        if (data.flow) form.hidden = true;
      }
      // A saved profile language becomes the page language.
      if (data.ok && form.dataset.after === "lang") return window.location.assign("/lang?to=" + encodeURIComponent(body.language) + "&back=/settings");
      follow(data, form);
    });
  });

  // A sign-in link from the mail: the token is in the fragment (never sent to a server, never
  // in a log); it is posted once, then taken out of the address bar.
  // Used only on a click (a mail scanner that runs scripts does not spend it, and a link
  // someone else sent does nothing by being opened).
  const linkOk = document.querySelector("[data-link-ok]");
  if (linkOk && location.hash.startsWith("#sign-in-link=")) {
    let token = "";
    try { token = decodeURIComponent(location.hash.slice("#sign-in-link=".length)); } catch (_) { token = ""; }
    history.replaceState(null, "", location.pathname);
    if (token) {
      linkOk.hidden = false;
      linkOk.querySelector("button").addEventListener("click", async () => {
        const d = await api("/api/login/link/redeem", { token });
        linkOk.hidden = true;
        show(errorBox, d.ok ? "" : d.message);
        if (d.ok) show(messageBox, linkOk.dataset.linkOk);
      });
    }
  }

  // After a sign-in that must change its password: say so on the settings page.
  document.querySelectorAll("[data-change-password-prompt]").forEach((p) => {
    if (sessionStorage.getItem("change_password")) p.hidden = false;
  });
  document.querySelectorAll("form[data-api='/api/settings/password']").forEach((f) => f.addEventListener("submit", () => sessionStorage.removeItem("change_password")));

  // The recovery codes page: show the codes once, then forget them.
  document.querySelectorAll("[data-recovery-codes]").forEach((list) => {
    let codes = [];
    try { codes = JSON.parse(sessionStorage.getItem("recovery_codes") || "[]"); } catch (_) { codes = []; }
    sessionStorage.removeItem("recovery_codes");
    for (const c of codes) {
      const li = document.createElement("li");
      const code = document.createElement("code");
      code.textContent = String(c);
      li.appendChild(code);
      list.appendChild(li);
    }
  });

  // Copy or download the codes shown (never sent anywhere).
  const shownCodes = () => Array.from(document.querySelectorAll("[data-recovery-codes] code"), (c) => c.textContent).join("\n");
  document.querySelectorAll("[data-action=copy-codes]").forEach((b) => b.addEventListener("click", async () => {
    try { await navigator.clipboard.writeText(shownCodes()); show(messageBox, b.dataset.done); } catch (e) { show(errorBox, String(e && e.message || e)); }
  }));
  document.querySelectorAll("[data-action=download-codes]").forEach((b) => b.addEventListener("click", () => {
    const url = URL.createObjectURL(new Blob([shownCodes() + "\n"], { type: "text/plain" }));
    const a = document.createElement("a");
    a.href = url; a.download = "recovery-codes.txt";
    document.body.appendChild(a); a.click(); a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  }));

  // The language switch comes back to this page.
  // (The path only: a query can hold a link's token, which must not travel into another URL.)
  document.querySelectorAll("a[data-lang]").forEach((a) => { a.href += "&back=" + encodeURIComponent(location.pathname); });

  // Times in the reader's own zone.
  document.querySelectorAll("time[data-unix]").forEach((el) => {
    el.textContent = new Date(Number(el.dataset.unix) * 1000).toLocaleString(document.documentElement.lang);
  });

  // "Try another method".
  document.querySelectorAll("[data-select]").forEach((b) => b.addEventListener("click", async () => {
    const data = await api("/api/login/select", { factor: b.dataset.select });
    if (data.ok) window.location.reload(); else follow(data);
  }));

  document.querySelectorAll("[data-remove]").forEach((b) => b.addEventListener("click", async () => {
    follow(await api("/api/mfa/remove", { factor: b.dataset.remove }), { dataset: { next: "/mfa" } });
  }));

  document.querySelectorAll("[data-action=logout]").forEach((b) => b.addEventListener("click", async () => follow(await api("/api/logout"), { dataset: { next: "/login" } })));
  document.querySelectorAll("[data-action=sms]").forEach((b) => b.addEventListener("click", async () => follow(await api("/api/mfa/sms"))));

  // Second factor with a security key or passkey.
  document.querySelectorAll("[data-action=webauthn-login]").forEach((b) => b.addEventListener("click", async () => {
    try {
      const cred = await navigator.credentials.get({ publicKey: requestOptions(page.options.publicKey), signal: timeout() });
      follow(await api("/api/login/webauthn", { response: credentialJSON(cred) }));
    } catch (e) { show(errorBox, String(e && e.message || e)); }
  }));

  // Register a security key, passkey or biometric key, with the name the user typed.
  document.querySelectorAll("form[data-webauthn-register]").forEach((form) => form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const begin = await api("/api/mfa/webauthn/begin", { kind: form.dataset.webauthnRegister });
    if (!begin.ok) return follow(begin);
    try {
      const cred = await navigator.credentials.create({ publicKey: creationOptions(begin.options.publicKey), signal: timeout() });
      follow(await api("/api/mfa/webauthn/finish", { flow: begin.flow, name: form.elements.name.value, response: credentialJSON(cred) }), form);
    } catch (e) { show(errorBox, String(e && e.message || e)); }
  }));

  // TOTP enrollment: fetch the QR code.
  const qr = document.querySelector("#qr[data-begin]");
  if (qr) api(qr.dataset.begin).then((d) => {
    if (!d.ok) return follow(d);
    qr.innerHTML = d.qr_svg;
    document.querySelector("#secret").textContent = d.secret;
    document.querySelector("input[name=flow]").value = d.flow;
  });

  // Email-code enrollment: send the code.
  const emailBegin = document.querySelector("[data-begin-email]");
  if (emailBegin) api(emailBegin.dataset.beginEmail).then((d) => {
    if (!d.ok) return follow(d);
    document.querySelector("input[name=flow]").value = d.flow;
  });

  // Push enrollment: QR code, then the number once the phone registered.
  const pushQr = document.querySelector("#qr[data-push-begin]");
  if (pushQr) api(pushQr.dataset.pushBegin).then((d) => {
    if (!d.ok) return follow(d);
    pushQr.innerHTML = d.qr_svg;
    document.querySelector("#uri").textContent = d.uri;
    const tick = async () => {
      const s = await api("/api/mfa/push/status", { flow: d.flow });
      if (!s.ok) return follow(s);
      if (s.status === "confirm") {
        const n = document.querySelector("#push-number");
        n.textContent = s.number; n.hidden = false;
        document.querySelector("#push-confirm").hidden = false;
      }
      if (s.status === "enrolled") return follow(s, { dataset: { next: "/mfa" } });
      setTimeout(tick, 1500);
    };
    tick();
  });

  // Login waiting for a push approval.
  const poll = document.querySelector("[data-poll]");
  if (poll) {
    const tick = async () => {
      const d = await api(poll.dataset.poll);
      if (d.waiting) return setTimeout(tick, 1500);
      follow(d);
    };
    setTimeout(tick, 1500);
  }

  // After login: offer a biometric key when this browser has a platform authenticator.
  const offer = document.querySelector("[data-offer-biometric]");
  if (offer) {
    const no = () => window.location.assign("/settings");
    if (!window.PublicKeyCredential) no();
    else PublicKeyCredential.isUserVerifyingPlatformAuthenticatorAvailable().then((yes) => { if (yes) offer.hidden = false; else no(); }, no);
  }
})();
