#!/usr/bin/env python3
"""mfa-push's PROTOCOL.md reproduced by an independent implementation (PyPI `cryptography`).

1. Rebuild every signing input of the test vectors from the documented fields, byte by byte.
2. Verify the server's Ed25519 challenge signature and the documented device signature.
3. Sign a fresh response with the documented device key; the crate's server accepts it
   (Approved), and refuses it with another number.
"""
import base64, hashlib, json, re, struct, subprocess, sys
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_der_private_key

doc = (Path(__file__).resolve().parents[2] / "crates/mfa-push/PROTOCOL.md").read_text()
block = doc.split("## Test vectors")[1].split("```text")[1].split("```")[0]
V = dict(line.split(": ", 1) for line in block.strip().splitlines())

def lp(b): return struct.pack(">I", len(b)) + b
def u64(n): return struct.pack(">Q", n)
def b64u(b): return base64.urlsafe_b64encode(b).rstrip(b"=").decode()

server, kid = b"https://portal.example.com", b"2026-11"
device_id, challenge_id, nonce = b"\x11" * 16, b"\x22" * 16, b"\x33" * 16
issued, expires = 1800000000, 1800000090

server_key = Ed25519PrivateKey.from_private_bytes(b"\x07" * 32)
server_pub = server_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
assert server_pub.hex() == V["server_public_key"], "server public key"
device_key = load_der_private_key(bytes.fromhex(V["device_pkcs8"]), None)
device_pub = device_key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
assert device_pub.hex() == V["device_public_key"], "device public key"

registration = (b"mfa-push/v1/register\0" + lp(server) + lp(b"\x44" * 16) + hashlib.sha256(b"\x55" * 32).digest()
                + bytes([1]) + lp(device_pub) + lp(b"iPhone") + lp(b"push-token-1"))
assert registration.hex() == V["registration_input"], "registration input"

context = hashlib.sha256(b"mfa-push/v1/context\0" + lp(b"Example Portal") + lp(b"Tokyo, JP") + lp(b"203.0.113.7")
                         + lp(b"Chrome on Windows") + u64(issued)).digest()
assert context.hex() == V["context_hash"], "context hash"

challenge = (b"mfa-push/v1/challenge\0" + lp(server) + lp(kid) + lp(device_id) + lp(challenge_id) + lp(nonce)
             + u64(issued) + u64(expires) + bytes([2]) + context)
assert challenge.hex() == V["challenge_input"], "challenge input"
Ed25519PublicKey.from_public_bytes(server_pub).verify(bytes.fromhex(V["challenge_signature"]), challenge)
# The same challenge for a password reset: purpose 3, and its own signature.
reset = challenge.replace(u64(expires) + bytes([2]), u64(expires) + bytes([3]))
assert reset.hex() == V["challenge_input_password_reset"], "password-reset challenge input"
Ed25519PublicKey.from_public_bytes(server_pub).verify(bytes.fromhex(V["challenge_signature_password_reset"]), reset)

def response_input(number):
    return (b"mfa-push/v1/response\0" + lp(server) + lp(device_id) + lp(challenge_id) + lp(nonce)
            + u64(issued) + u64(expires) + context + bytes([1, number]))

assert response_input(42).hex() == V["response_input"], "response input"
device_key.public_key().verify(bytes.fromhex(V["device_signature"]), response_input(42), ec.ECDSA(hashes.SHA256()))
print("push interop: every signing input rebuilt byte for byte; both documented signatures verify")

EXAMPLE = ["cargo", "run", "-q", "--release", "-p", "mfa-push", "--example", "push_vectors", "--", "respond"]
def respond(number, signed_number):
    sig = device_key.sign(response_input(signed_number), ec.ECDSA(hashes.SHA256()))
    msg = json.dumps({"device_id": b64u(device_id), "challenge_id": b64u(challenge_id), "decision": "approve",
                      "number": number, "signature": b64u(sig)})
    return subprocess.run(EXAMPLE, input=msg, check=True, capture_output=True, text=True).stdout.strip()

if (out := respond(42, 42)) != "Approved":
    sys.exit(f"the server did not accept Python's response: {out}")
if not (out := respond(43, 42)).startswith("refused: BadSignature"):
    sys.exit(f"a response with another number than signed was not refused: {out}")
print("push interop: a response signed by Python is accepted; with another number it is refused")
