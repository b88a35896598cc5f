#!/usr/bin/env python3
"""TOTP interoperability with clients nobody here wrote.

For enrollments made by mfa-totp (several profiles, issuers and accounts with spaces, `@`,
`:`, `&` and Japanese), at fixed times:
1. the code equals oathtool's (Debian) and pyotp's (PyPI);
2. pyotp parses our otpauth URI to the same secret, issuer, account and profile;
3. the SVG QR code, rendered to PNG (rsvg-convert), decodes with zbarimg to exactly our URI.
"""
import hashlib, subprocess, sys, tempfile
from pathlib import Path

import pyotp

COUNT = 12
DIGESTS = {"SHA1": hashlib.sha1, "SHA256": hashlib.sha256, "SHA512": hashlib.sha512}

with tempfile.TemporaryDirectory() as tmp:
    out = subprocess.run(
        ["cargo", "run", "-q", "--release", "-p", "mfa-totp", "--example", "totp_interop", "--", str(COUNT), "7", tmp],
        check=True, capture_output=True, text=True).stdout
    rows = [l.split("\t") for l in out.splitlines() if l]
    assert len(rows) == COUNT, rows
    for b32, alg, digits, period, t, code, uri, svg in rows:
        digits, period, t = int(digits), int(period), int(t)
        oath = subprocess.run(
            ["oathtool", "-b", f"--totp={alg.lower()}", f"--digits={digits}", f"--time-step-size={period}s",
             f"--now=@{t}", b32], check=True, capture_output=True, text=True).stdout.strip()
        if oath != code:
            sys.exit(f"oathtool {oath} != ours {code} ({alg}/{digits}/{period} at {t})")
        py = pyotp.TOTP(b32, digits=digits, digest=DIGESTS[alg], interval=period).at(t)
        if py != code:
            sys.exit(f"pyotp {py} != ours {code}")
        parsed = pyotp.parse_uri(uri)
        if parsed.secret != b32 or parsed.digits != digits or parsed.interval != period:
            sys.exit(f"pyotp parsed {uri} to {parsed.secret} {parsed.digits} {parsed.interval}")
        if parsed.at(t) != code:
            sys.exit(f"pyotp's parse of {uri} gives another code")
        png = Path(tmp) / (Path(svg).stem + ".png")
        subprocess.run(["rsvg-convert", "-w", "480", "-b", "white", "-o", str(png), svg], check=True)
        decoded = subprocess.run(["zbarimg", "--raw", "-q", str(png)], check=True, capture_output=True,
                                 text=True).stdout.rstrip("\n")
        if decoded != uri:
            sys.exit(f"zbarimg decoded {decoded!r}, expected {uri!r}")
    print(f"totp interop: {COUNT} enrollments — codes equal oathtool and pyotp, "
          f"pyotp parses the URIs, zbarimg decodes the QR codes")
    # Issuer and account names as pyotp reads them (checked apart: pyotp keeps them as text).
    names = {(pyotp.parse_uri(r[6]).issuer, pyotp.parse_uri(r[6]).name) for r in rows}
    want = {("Elements Portal", "ryuko.konaka+20231201@withsecure.com"), ("製品ポータル", "山田 太郎@例え.jp"),
            ("ACME & Co.", "a:b@example.com")}
    if names != want:
        sys.exit(f"pyotp read issuer/account {names}, expected {want}")
    print("totp interop: pyotp reads issuer and account names exactly")
