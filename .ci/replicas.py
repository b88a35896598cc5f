#!/usr/bin/env python3
"""Three portal processes on one PostgreSQL, the journey with each request sent to a
different process, and the cross-process races. Started by .ci/postgres-tests (which owns the
database server); this script starts and stops the portals (127.0.0.1 only).

Usage: replicas.py DATABASE_URL PORTAL_BIN PUSH_DEVICE_BIN
"""
import base64
import hashlib
import hmac
import http.client
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time

PW = "correct horse battery staple"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def fail(msg):
    print(f"replicas: FAIL: {msg}", flush=True)
    raise SystemExit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def totp(secret, at):
    key = base64.b32decode(secret + "=" * ((8 - len(secret) % 8) % 8))
    mac = hmac.new(key, (int(at) // 30).to_bytes(8, "big"), hashlib.sha1).digest()
    o = mac[-1] & 15
    return "%06d" % ((int.from_bytes(mac[o:o + 4], "big") & 0x7FFFFFFF) % 1000000)


class App:
    """An authenticator app that never shows a step twice (the server refuses a replay):
    the next code is for the first unused step within the server's window (now ± 1)."""

    def __init__(self, secret):
        self.secret = secret
        self.last = -1

    def code(self):
        while True:
            now = int(time.time()) // 30
            step = max(self.last + 1, now)
            if step <= now + 1:
                self.last = step
                return totp(self.secret, step * 30)
            time.sleep(1)


class Browser:
    """A cookie jar and a CSRF token; each call says which replica it goes to."""

    def __init__(self, ports):
        self.ports = ports
        self.cookies = {}
        self.csrf = ""

    def call(self, replica, method, path, body=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.ports[replica], timeout=30)
        headers = {"x-csrf-token": self.csrf}
        if self.cookies:
            headers["cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        data = None
        if body is not None:
            data = json.dumps(body)
            headers["content-type"] = "application/json"
        conn.request(method, path, body=data, headers=headers)
        res = conn.getresponse()
        raw = res.read()
        for k, v in res.getheaders():
            if k.lower() == "set-cookie":
                name, _, rest = v.partition("=")
                value = rest.split(";", 1)[0]
                if "max-age=0" in v.lower() or value == "":
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = value
        conn.close()
        try:
            return res.status, json.loads(raw or b"{}")
        except ValueError:
            return res.status, {"raw": raw.decode(errors="replace")}

    def post(self, replica, path, body=None):
        return self.call(replica, "POST", path, body if body is not None else {})[1]

    def refresh_csrf(self, replica):
        self.csrf = self.call(replica, "GET", "/api/session")[1].get("csrf") or ""


def last_mail(outbox, kind):
    names = sorted(n for n in os.listdir(outbox) if n.endswith(f"-{kind}.eml"))
    check(names, f"no {kind} mail")
    text = open(os.path.join(outbox, names[-1]), encoding="utf-8").read()
    return re.sub(r"=\r?\n", "", text)


def main():
    db_url, portal, device = sys.argv[1:4]
    work = tempfile.mkdtemp(prefix="mfa-replicas-")
    data = os.path.join(work, "data")
    ports = [free_port() for _ in range(3)]
    procs = []
    logs = []
    try:
        for i, port in enumerate(ports):
            log = open(os.path.join(work, f"portal{i}.log"), "w")
            logs.append(log)
            procs.append(subprocess.Popen(
                [portal, "--listen", f"127.0.0.1:{port}", "--public-url", f"http://localhost:{ports[0]}",
                 "--data-dir", data, "--database-url", db_url],
                stdout=log, stderr=subprocess.STDOUT))
            for _ in range(200):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    time.sleep(0.1)
            else:
                fail(f"portal {i} did not start")
        journey(ports, data, device, work)
        print("replicas: the journey and the races held across three processes", flush=True)
    except SystemExit:
        for i in range(len(logs)):
            logs[i].flush()
            print(f"--- portal {i} log (tail)")
            print("".join(open(os.path.join(work, f"portal{i}.log")).readlines()[-20:]))
        raise
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()


def journey(ports, data, device, work):
    outbox = os.path.join(data, "outbox")
    b = Browser(ports)
    # Sign-up on 0, the mailed code confirmed on 1.
    r = b.post(0, "/api/signup", {"email": "rep@example.com", "password": PW})
    check(r.get("ok"), f"sign-up: {r}")
    code = re.search(r"<strong>(\d{6})</strong>", last_mail(outbox, "confirm-sign-up")).group(1)
    r = b.post(1, "/api/signup/confirm", {"flow": r["flow"], "code": code})
    check(r.get("ok"), f"confirm: {r}")
    # Sign-in on 2: enrollment is forced; TOTP begun on 0, confirmed on 1.
    r = b.post(2, "/api/login", {"identifier": "rep@example.com", "password": PW})
    check(r.get("must_enroll"), f"login: {r}")
    b.refresh_csrf(0)
    en = b.post(0, "/api/mfa/totp/begin")
    app = App(en["secret"])
    r = b.post(1, "/api/mfa/totp/confirm", {"flow": en["flow"], "code": app.code(), "name": "App"})
    check(len(r.get("recovery_codes") or []) == 10, f"totp confirm: {r}")
    # Out on 2; in on 0 with the next code, typed on 1.
    b.post(2, "/api/logout")
    r = b.post(0, "/api/login", {"identifier": "rep@example.com", "password": PW})
    check(r.get("challenge", {}).get("method", {}).get("kind") == "totp", f"login 2: {r}")
    r = b.post(1, "/api/login/code", {"code": app.code()})
    check(r.get("authenticated"), f"totp login: {r}")

    # Push: begun on 0; the phone registers with, polls and answers replica 2; status on 1.
    b.refresh_csrf(0)
    begin = b.post(0, "/api/mfa/push/begin")
    state = os.path.join(work, "phone.json")
    phone = [device, "--state", state, "--server", f"http://127.0.0.1:{ports[2]}/api"]
    out = subprocess.run(phone + ["enroll", begin["uri"], "Phone"], capture_output=True, text=True, timeout=30)
    check(out.returncode == 0, f"push-device enroll: {out.stdout} {out.stderr}")
    s = b.post(1, "/api/mfa/push/status", {"flow": begin["flow"]})
    check(s.get("status") == "confirm", f"push status: {s}")
    out = subprocess.run(phone + ["listen"], capture_output=True, text=True, timeout=30)
    check(out.returncode == 0, f"listen (activation): {out.stdout} {out.stderr}")
    subprocess.run(phone + ["approve", str(s["number"])], check=True, capture_output=True, timeout=30)
    s = b.post(2, "/api/mfa/push/status", {"flow": begin["flow"]})
    check(s.get("ok") and (s.get("factor") or {}).get("kind") == "push", f"push enrolled: {s}")
    push_id = s["factor"]["factor"]

    # A push sign-in started on 0 (its hint crosses the database to replica 2, where the
    # phone polls), the number approved there, the browser polling 1. (A second later than
    # the enrollments: a step-up only uses factors older than its session, to the second.)
    time.sleep(1.1)
    b.post(0, "/api/logout")
    r = b.post(0, "/api/login", {"identifier": "rep@example.com", "password": PW})
    view = r["challenge"]
    if view["method"]["kind"] != "push":
        view = b.post(1, "/api/login/select", {"factor": push_id})["challenge"]
    check(view["prompt"]["kind"] == "push", f"a push prompt: {view}")
    number = view["prompt"]["number"]
    out = subprocess.run(phone + ["listen"], capture_output=True, text=True, timeout=30)
    check(out.returncode == 0, f"listen (sign-in): {out.stdout} {out.stderr}")
    subprocess.run(phone + ["approve", str(number)], check=True, capture_output=True, timeout=30)
    for _ in range(60):
        r = b.post(1, "/api/login/poll")
        if not r.get("waiting"):
            break
        time.sleep(0.5)
    check(r.get("authenticated"), f"push login: {r}")

    # Step-up (begun on 2, the app's next code on 0), then the email change (on 1),
    # confirmed on 2; the new address signs in on 0.
    b.refresh_csrf(2)
    up = b.post(2, "/api/stepup")
    upview = up.get("challenge") or {}
    # The app enrolled above (the phone's enrollment added an offline-codes app of its own).
    totp_id = None
    for m in [upview.get("method", {})] + upview.get("alternatives", []):
        if m.get("kind") == "totp" and m.get("name") == "App":
            totp_id = m["factor"]
    check(totp_id, f"step-up offers the app: {up}")
    if upview["method"]["kind"] != "totp":
        sel = b.post(0, "/api/login/select", {"factor": totp_id})
        check(sel.get("challenge", {}).get("method", {}).get("kind") == "totp", f"step-up select: {sel}")
    code = app.code()
    r = b.post(0, "/api/login/code", {"code": code})
    check(r.get("stepped_up"), f"step-up: {r} (code for step {app.last}, now {int(time.time()) // 30}, first {up})")
    r = b.post(1, "/api/settings/email", {"email": "moved@example.com", "current_password": PW})
    check(r.get("ok") and r.get("awaiting_confirmation"), f"email change: {r}")
    token = re.search(r"token=3D([A-Za-z0-9_-]+)", last_mail(outbox, "confirm-new-address")).group(1)
    r = b.post(2, "/api/email/confirm", {"token": token})
    check(r.get("ok"), f"email confirm: {r}")

    # A session revoked on one process is dead on every process.
    other = Browser(ports)
    r = other.post(0, "/api/login", {"identifier": "moved@example.com", "password": PW})
    check("challenge" in r, f"login with the new address: {r}")
    old = dict(b.cookies)
    b.refresh_csrf(0)
    b.post(0, "/api/logout")
    ghost = Browser(ports)
    ghost.cookies = old
    for i in range(3):
        status, _ = ghost.call(i, "GET", "/api/me")
        check(status == 401, f"the ended session on replica {i}: {status}")

    # One code, three processes at once: one sign-in succeeds.
    jars = [Browser(ports) for _ in range(3)]
    for i, j in enumerate(jars):
        r = j.post(i, "/api/login", {"identifier": "moved@example.com", "password": PW})
        c = r["challenge"]
        if c["method"]["kind"] != "totp":
            r = j.post(i, "/api/login/select", {"factor": totp_id})
            check(r.get("challenge", {}).get("method", {}).get("kind") == "totp", f"select app: {r}")
    code = app.code()
    results = [None] * 3

    def submit(i):
        results[i] = jars[i].post(i, "/api/login/code", {"code": code})

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [i for i, r in enumerate(results) if r.get("authenticated")]
    check(len(winners) == 1, f"one code, three processes: {results}")
    check(all(r.get("error") == "err_code" for i, r in enumerate(results) if i not in winners), f"the others: {results}")

    # The last two factors removed on two processes at once: one is refused. (First the
    # phone's offline-codes app, so that the app and the phone are the last two.)
    w = jars[winners[0]]
    w.refresh_csrf(0)
    status, methods = w.call(0, "GET", "/api/methods")
    offline = [m["id"] for m in methods.get("methods", []) if m["kind"] == "totp" and m["id"] != totp_id]
    for factor in offline:
        r = w.post(1, "/api/mfa/remove", {"factor": factor})
        check(r.get("ok"), f"remove the offline codes: {r}")
    w.refresh_csrf(2)
    removed = [None] * 2

    def remove(k, factor, replica):
        removed[k] = w.post(replica, "/api/mfa/remove", {"factor": factor})

    threads = [threading.Thread(target=remove, args=(0, totp_id, 1)),
               threading.Thread(target=remove, args=(1, push_id, 2))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # The loser is refused either as the last factor, or because the winner's removal has
    # already moved the account's session epoch on (a removal ends the other sessions
    # atomically): both keep a factor.
    oks = [r for r in removed if r.get("ok")]
    refused = [r for r in removed if r.get("error") in ("err_last_factor", "err_login_required")]
    check(len(oks) == 1 and len(refused) == 1, f"two removals at once: {removed}")
    status, methods = w.call(0, "GET", "/api/methods")
    left = [m for m in methods.get("methods", []) if m["kind"] in ("totp", "push")]
    check(status == 200 and len(left) == 1, f"one of the two remains: {status} {methods}")


if __name__ == "__main__":
    main()
