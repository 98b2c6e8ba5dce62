#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz tests (src/test/resources/io/usher/**/<Class>Inputs/<method>/).

Run from the repository root: python3 scripts/fuzz-seeds.py. Files are named seed-<what>; inputs that
fuzzing found (crash-*, kept as regression inputs) are left alone. Layouts: docs/fuzzing.md.
"""
import os
import struct

ROOT = "src/test/resources/io/usher"


def write(path, name, data):
    d = os.path.join(ROOT, path)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


def msg(t, payload=b""):
    return t.encode() + struct.pack(">i", 4 + len(payload)) + payload


def cs(s):
    return s.encode() + b"\0"


# ---- startup packets: [chunk sizes][stream]
def startup(params, code=196608):
    body = struct.pack(">i", code) + b"".join(cs(k) + cs(v) for k, v in params) + b"\0"
    return struct.pack(">i", 4 + len(body)) + body

ssl = struct.pack(">ii", 8, 80877103)
gss = struct.pack(">ii", 8, 80877104)
cancel = struct.pack(">iiii", 16, 80877102, 1234, 5678)
P = "protocol/StartupPacketFuzzTestInputs/startupPacket"
write(P, "startup", b"\0" + startup([("user", "app"), ("database", "appdb")]))
write(P, "ssl-then-startup-bytewise", b"\x01\x00" + ssl + startup([("user", "u"), ("options", "-c x=1")]))
write(P, "gssenc-ssl-startup", b"\x02\x02\x06" + gss + ssl + startup([("user", "u")]))
write(P, "cancel", b"\0" + cancel)
write(P, "bad-version", b"\0" + startup([("user", "u")], code=0x00020000))
write(P, "too-long", b"\0" + struct.pack(">ii", 10001, 196608))
write(P, "unterminated", b"\0" + struct.pack(">ii", 12, 196608) + b"us\0r")
write(P, "ssl-wrong-length", b"\0" + struct.pack(">iii", 12, 80877103, 0))

# ---- framing: [flags][chunk sizes][stream]
client_stream = (msg("P", cs("s1") + cs("SELECT $1") + b"\0\1\0\0\0\x17") + msg("B", cs("") + cs("s1") + b"\0\0\0\0\0\0")
                 + msg("D", b"P" + cs("")) + msg("E", cs("") + b"\0\0\0\0") + msg("S") + msg("Q", cs("SELECT 1")))
server_stream = (msg("1") + msg("2") + msg("T", b"\0\0") + msg("D", b"\0\1\0\0\0\1" + b"1") + msg("C", cs("SELECT 1"))
                 + msg("S", cs("TimeZone") + cs("UTC")) + msg("Z", b"T") + msg("C", cs("COMMIT")) + msg("Z", b"I"))
for method, stream in (("clientFraming", client_stream), ("serverFraming", server_stream)):
    p = "protocol/MessageScannerFuzzTestInputs/" + method
    write(p, "whole", b"\x02\x00" + stream)
    write(p, "bytewise", b"\x02\x01\x00" + stream)
    write(p, "odd-reads-junk", b"\x1e\x03\x02\x06\x0a" + stream)
    write(p, "limit-64", b"\x01\x02\x10\x03" + stream)
    write(p, "bad-length", b"\x02\x01\x02" + stream[:11] + b"X\0\0\0\x02")
    write(p, "huge-length", b"\x03\x01\x03" + b"Z\x7f\xff\xff\xff" + b"I" * 40)

# ---- statement tracker: [max prepared][ops...]
#  0 Parse name query | 1 Bind portal name | 2 Describe S name | 3 Describe P portal | 4 Execute portal rows
#  5 Close S name | 6 Close P portal | 7/8 Sync | 9 Query q | 10 Flush | 11 send n | 12 deliver n
#  13 switch server | 14 malformed client message | 15 server garbage
# names: 0 "" 1 a 2 b 3 S_1 4 c; queries: 0 SELECT 1, 1 SELECT 2, 2 ERR, 3 DEALLOCATE ALL, 4 DISCARD ALL, 5 EMPTY
def ops(*xs):
    return bytes(xs)

T = "prepared/StatementTrackerFuzzTestInputs/statementTracker"
jdbc = ops(0, 3, 0, 1, 0, 3, 3, 0, 4, 0, 0, 7)  # Parse S_1, Bind, Describe P, Execute, Sync
write(T, "pgjdbc-style", bytes([2]) + jdbc + ops(11, 0, 12, 8) + jdbc + ops(11, 7, 11, 0, 12, 8))
write(T, "two-names-same-query-evict", bytes([1]) + ops(0, 1, 0, 0, 2, 1, 7, 11, 0, 12, 8, 1, 0, 1, 1, 0, 2, 7, 11, 0, 12, 8))
write(T, "error-skips-to-sync", bytes([3]) + ops(0, 1, 2, 1, 0, 1, 5, 1, 7, 1, 0, 1, 7, 11, 0))
write(T, "query-in-failed-pipeline", bytes([3]) + ops(0, 1, 2, 9, 0, 7, 0, 2, 0, 5, 2, 7, 11, 0))
write(T, "deallocate-all", bytes([200]) + ops(0, 1, 0, 9, 3, 0, 2, 1, 7, 1, 0, 1, 7, 11, 0, 12, 3, 13, 1, 0, 2, 7))
write(T, "switch-servers", bytes([2]) + ops(0, 1, 0, 7, 11, 0, 12, 8, 13, 1, 0, 1, 4, 0, 0, 7, 11, 0, 12, 8, 13, 5, 1, 7))
write(T, "close-then-reuse", bytes([4]) + ops(0, 2, 0, 5, 2, 0, 2, 1, 7, 1, 0, 2, 7, 11, 3, 12, 1, 11, 0))
write(T, "malformed-bind", bytes([2]) + ops(0, 1, 0, 14, 1, 5, 1, 2, 3, 4, 5, 7, 11, 0))
write(T, "server-garbage", bytes([2]) + ops(0, 1, 0, 7, 11, 0, 15, ord('Z'), 1, ord('I'), 12, 8))

# ---- config: main \0 include \0 userlist
C = "config/ConfigFuzzTestInputs/iniConfig"
write(C, "minimal", "[databases]\nappdb = host=127.0.0.1 port=5432 dbname=appdb\n\n[pgbouncer]\nlisten_port = 6432\n"
      "auth_type = md5\nauth_file = users.txt\npool_mode = transaction\n\0\0\"app\" \"secret\"\n")
write(C, "include", "[pgbouncer]\n%include inc.ini\nlisten_port = 6433\n\0max_client_conn = 10\n[databases]\n* = host=localhost\n\0")
write(C, "include-missing", "[pgbouncer]\n%include missing.ini\n\0\0")
write(C, "include-self", "[pgbouncer]\n%include inc.ini\n\0%include inc.ini\n\0")
write(C, "users-peers", "[pgbouncer]\n[users]\nalice = pool_mode=session max_user_connections=3\n[peers]\n1 = host=/tmp port=6433\n\0\0")
write(C, "bad-value", "; comment\n[pgbouncer]\nlisten_port = seventy\n\0\0")
write(C, "quoted-keys", "[databases]\n'my db' = dbname=x\n\"a\"\"b\" = dbname=y\n[pgbouncer]\n\0\0")
write(C, "bad-userlist", "[pgbouncer]\nauth_type = scram-sha-256\nauth_file = u\n\0\0\"alice\" secret\n")
write(C, "bom-crlf", "\ufeff[pgbouncer]\r\nlisten_addr = *\r\n\0\0")
S = "config/ConfigFuzzTestInputs/connectionString"
for n, s in (("simple", "host=127.0.0.1 port=5432 dbname=appdb"), ("quoted", "host='a b' application_name='it''s'"),
             ("spaces", "  host = x\tport= 1 "), ("empty", "host="), ("unterminated", "host='abc"),
             ("after-quote", "host='a'b"), ("no-equals", "host"), ("list", "host=a,b,c load_balance_hosts=disable")):
    write(S, n, s)
U = "config/ConfigFuzzTestInputs/userList"
for n, s in (("plain", '"app" "secret"\n"bob" "md5d7d8e5f1e2c0d3a4b5c6d7e8f9a0b1c2"\n'),
             ("scram", '"u" "SCRAM-SHA-256$4096:c2FsdHNhbHQ=$YWFh:YmJi"\n'), ("escaped", '"a""b" "p""w" trailing\n; comment\n'),
             ("missing-password", '"alice"\n'), ("not-quoted", 'alice "pw"\n'), ("unterminated", '"alice" "pw\n'),
             ("long-name", '"' + "x" * 130 + '" "p"\n')):
    write(U, n, s)

# ---- SCRAM: [flags] peer-first \0 peer-final
A = "auth/ScramExchangeFuzzTestInputs/scramServer"
good_final = "c=biws,r=abcSERVER,p=PROOF"
for flag, n in ((0, "verifier"), (1, "plain"), (2, "unknown-user")):
    write(A, n + "-good", bytes([flag]) + b"n,,n=,r=abc\0" + good_final.encode())
write(A, "y-flag", b"\0y,,n=*,r=abc\0c=eSws,r=abcSERVER,p=PROOF")
write(A, "extensions", b"\0n,,n=user,r=abc,x=ext\0c=biws,r=abcSERVER,z=1,p=PROOF")
write(A, "wrong-nonce", b"\0n,,n=,r=abc\0c=biws,r=abcOTHER,p=PROOF")
write(A, "channel-binding", b"\0p=tls-server-end-point,,n=,r=abc\0")
write(A, "parsed-secret", b"\x03n,,n=,r=abc\0c=biws,r=abcSERVER,p=PROOF\0SCRAM-SHA-256$4096:c2FsdHNhbHQ=$YWFh:YmJi")
B = "auth/ScramExchangeFuzzTestInputs/scramClient"
write(B, "keys-good", b"\0r=abcSERVER,s=c2FsdA==,i=4096\0v=SIG")
write(B, "password-good", b"\x01r=abcSERVER,s=c2FsdA==,i=2\0v=SIG")
write(B, "server-error", b"\0r=abcSERVER,s=c2FsdA==,i=1\0e=invalid-proof")
write(B, "bad-signature", b"\0r=abcSERVER,s=c2FsdA==,i=1\0v=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
write(B, "nonce-not-extended", b"\0r=abc,s=c2FsdA==,i=1\0v=SIG")
write(B, "two-attributes", b"\0r=abcSERVER,s=c2FsdA==\0v=SIG")
