#!/usr/bin/env python3
"""argon2id interoperability with the C reference implementation (argon2-cffi wraps it).

1. Hashes made by mfa-credentials verify with argon2-cffi.
2. Hashes made by argon2-cffi (several parameter sets, NFKC-normalized passwords) verify
   with mfa-credentials.
3. Wrong passwords are refused on both sides.
"""
import random, subprocess, sys, unicodedata

import argon2

EXAMPLE = ["cargo", "run", "-q", "--release", "-p", "mfa-credentials", "--example", "phc_interop", "--"]

made_here = subprocess.run(EXAMPLE + ["make", "24", "2026"], check=True, capture_output=True, text=True).stdout
rows = [l.split("\t") for l in made_here.splitlines() if l]
assert len(rows) == 24, rows
ph = argon2.PasswordHasher()
for pw, phc in rows:
    ph.verify(phc, pw)  # raises on mismatch
    try:
        ph.verify(phc, pw + "!")
        sys.exit(f"C reference accepted a wrong password for {phc}")
    except argon2.exceptions.VerifyMismatchError:
        pass
print(f"ours -> C reference: {len(rows)} hashes verified, wrong passwords refused")

rng = random.Random(2026)
alphabet = "abcXYZ019 !#-_パスワード日本éü"
lines = []
for i, (t, m, p) in enumerate([(2, 19456, 1), (3, 12288, 1), (1, 47104, 1), (2, 8192, 2), (4, 7168, 1)] * 4):
    pw = unicodedata.normalize("NFKC", "".join(rng.choice(alphabet) for _ in range(rng.randint(8, 30))).strip() + "x")
    h = argon2.PasswordHasher(time_cost=t, memory_cost=m, parallelism=p, type=argon2.Type.ID)
    lines.append(f"{pw}\t{h.hash(pw)}")
out = subprocess.run(EXAMPLE + ["verify"], input="\n".join(lines) + "\n", capture_output=True, text=True)
print(out.stdout.strip())
if out.returncode != 0 or out.stdout.strip() != f"ok {len(lines)}":
    sys.exit(f"C reference -> ours failed: {out.stdout} {out.stderr}")
wrong = "\n".join(l.replace("\t", "!\t", 1) for l in lines[:3]) + "\n"
out = subprocess.run(EXAMPLE + ["verify"], input=wrong, capture_output=True, text=True)
if out.returncode == 0:
    sys.exit("a wrong password verified")
print(f"C reference -> ours: {len(lines)} hashes verified, wrong passwords refused")
print("credentials interop: 3 checks passed")
