#!/usr/bin/env python3
"""Builds `common-passwords.bin`, the crate's compact blocklist of common passwords.

Source: Django's `django/contrib/auth/common-passwords.txt.gz` (BSD-3-Clause), the 20,000
most common passwords compiled by Royce Williams, already lower-cased and ordered by frequency.
Reproduce with:

    pip download --no-deps -d /tmp/dj 'django==5.2.19'
    unzip -o -d /tmp/dj /tmp/dj/*.whl 'django/contrib/auth/common-passwords.txt.gz'
    python3 data/build-blocklist.py /tmp/dj/django/contrib/auth/common-passwords.txt.gz

Format ("front coding", as in LevelDB blocks), all entries sorted bytewise and unique:
    magic  b"MFABL1\\0"
    u32be  entry count
    then per entry: u8 shared-prefix length, u8 suffix length, suffix bytes.
Every 32nd entry restarts (shared-prefix length 0), so lookups binary-search restart points.
Entries are NFKC-normalized and lower-cased, as the policy normalizes a candidate.
"""
import gzip, struct, sys, unicodedata

RESTART = 32
src = sys.argv[1]
out = sys.argv[2] if len(sys.argv) > 2 else "data/common-passwords.bin"
with gzip.open(src, "rt", encoding="utf-8") as f:
    words = {unicodedata.normalize("NFKC", w.strip()).lower() for w in f if w.strip()}
entries = sorted(w.encode("utf-8") for w in words)
buf = bytearray(b"MFABL1\0")
buf += struct.pack(">I", len(entries))
prev = b""
for i, e in enumerate(entries):
    assert len(e) < 256
    shared = 0
    if i % RESTART != 0:
        while shared < min(len(prev), len(e)) and prev[shared] == e[shared]:
            shared += 1
    suffix = e[shared:]
    buf += bytes([shared, len(suffix)]) + suffix
    prev = e
with open(out, "wb") as f:
    f.write(buf)
print(f"{len(entries)} entries, {len(buf)} bytes -> {out}")
