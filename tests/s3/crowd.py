"""A gateway under a crowd and an attacker, checked with boto3 and raw signed requests.

Usage: crowd.py ENDPOINT ACCESS_KEY SECRET_KEY

- 16 clients at once write, read back and overwrite objects (small, inline-sized and
  multi-segment); every read returns exactly the bytes last acknowledged for its key,
  and no request is answered with a 5xx other than a retryable 503 (which boto3 retries).
- 12 conditional writes (`If-None-Match: *`) race for one key: exactly one wins, every
  other is refused with 412 (or 409, S3's "conditional request conflict"), and the
  object holds the winner's bytes.
- Malformed and hostile bodies (broken XML for CompleteMultipartUpload and
  DeleteObjects, a body shorter than its Content-Length, a huge declared key) are 4xx
  and change nothing.

Prints "all checks passed" at the end; the first failure ends the run non-zero.
"""

import base64
import hashlib
import os
import secrets
import sys
import threading
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError, IncompleteReadError, ResponseStreamingError

ENDPOINT, ACCESS, SECRET = sys.argv[1:4]


def client(retries=5):
    return boto3.client(
        "s3",
        endpoint_url=ENDPOINT,
        aws_access_key_id=ACCESS,
        aws_secret_access_key=SECRET,
        region_name="us-east-1",
        config=Config(
            s3={"addressing_style": "path"},
            retries={"max_attempts": retries, "mode": "standard"},
            max_pool_connections=32,
        ),
    )


def check(cond, what):
    if not cond:
        raise AssertionError(what)


s3 = client()
bucket = "crowd-" + secrets.token_hex(4)
s3.create_bucket(Bucket=bucket)

# --- many clients at once -------------------------------------------------------------
SIZES = [0, 100, 3000, 5000, 200_000, 1_500_000]
acknowledged = {}
written = {}
seen_versions = {}
broken_reads = [0]
lock = threading.Lock()
locks = {f"w{i}/obj-{j}": threading.Lock() for i in range(8) for j in range(2)}


def worker(n):
    c = client()
    for round_ in range(4):
        key = f"w{n % 8}/obj-{round_ % 2}"  # keys shared by two workers, overwritten
        size = SIZES[(n + round_) % len(SIZES)]
        body = os.urandom(size)
        with locks[key]:
            # Writes to one key are serialised here so that "the last acknowledged" is
            # well defined; the gateway still sees 16 clients in flight.
            c.put_object(Bucket=bucket, Key=key, Body=body)
            acknowledged[key] = hashlib.md5(body).hexdigest()
            written.setdefault(key, set()).add(acknowledged[key])
        # Another worker may overwrite the shared key while this reads it: a read of a
        # multi-segment object then ends with an error at the next segment (the network
        # does not keep replaced versions readable; S3 would). The client reads again;
        # what it finally gets must be whole and some acknowledged version.
        for attempt in range(10):
            got = c.get_object(Bucket=bucket, Key=key)
            try:
                data = got["Body"].read()
                break
            except (ResponseStreamingError, IncompleteReadError):
                with lock:
                    broken_reads[0] += 1
        else:
            raise AssertionError(f"{key}: ten reads in a row broke off")
        check(len(data) == got["ContentLength"], f"{key}: short body")
        with lock:
            seen_versions.setdefault(key, set()).add(hashlib.md5(data).hexdigest())
        solo = f"solo/{n}/{round_}"
        c.put_object(Bucket=bucket, Key=solo, Body=body)
        back = c.get_object(Bucket=bucket, Key=solo)["Body"].read()
        check(back == body, f"{solo}: read back different bytes")


with ThreadPoolExecutor(16) as pool:
    for f in [pool.submit(worker, n) for n in range(16)]:
        f.result()
for key, digests in seen_versions.items():
    check(digests <= written[key], f"{key}: a read returned bytes never written")
for key, digest in acknowledged.items():
    data = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    check(hashlib.md5(data).hexdigest() == digest, f"{key}: not the last acknowledged write")
listed = []
for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="solo/"):
    listed += [o["Key"] for o in page.get("Contents", [])]
check(len(listed) == 64 and len(set(listed)) == 64, f"solo objects listed: {len(listed)}")

# --- racing conditional writes --------------------------------------------------------
barrier = threading.Barrier(12)


def racer(n):
    """Returns (racer, won, saw_a_503)."""
    c = client(retries=1)
    body = f"racer {n}".encode()
    barrier.wait()
    busy = False
    for _ in range(10):
        try:
            c.put_object(Bucket=bucket, Key="race/target", Body=body, IfNoneMatch="*")
            return n, True, busy
        except ClientError as e:
            status = e.response["ResponseMetadata"]["HTTPStatusCode"]
            if status == 503:
                # Busy: the attempt may or may not have committed; try again.
                busy = True
                continue
            check(status in (409, 412), f"racer {n}: {status} {e.response['Error']}")
            return n, False, busy
    raise AssertionError(f"racer {n}: busy ten times")


with ThreadPoolExecutor(12) as pool:
    outcomes = list(pool.map(racer, range(12)))
winners = [n for n, won, _ in outcomes if won]
check(len(winners) <= 1, f"winners of If-None-Match: {winners}")
held = s3.get_object(Bucket=bucket, Key="race/target")["Body"].read()
if winners:
    check(held == f"racer {winners[0]}".encode(), f"the object holds {held!r}")
else:
    # Only an attempt whose answer was lost (a 503) can have won unseen.
    unseen = [n for n, _, busy in outcomes if busy]
    check(any(held == f"racer {n}".encode() for n in unseen), f"no winner, object {held!r}")

# --- hostile bodies -------------------------------------------------------------------
creds = Credentials(ACCESS, SECRET)


def raw(method, path, body=b"", headers=None):
    req = AWSRequest(method=method, url=ENDPOINT + path, data=body, headers=headers or {})
    req.headers["x-amz-content-sha256"] = hashlib.sha256(body).hexdigest()
    SigV4Auth(creds, "s3", "us-east-1").add_auth(req)
    r = urllib.request.Request(ENDPOINT + path, data=body or None, method=method)
    for k, v in req.headers.items():
        r.add_header(k, v)
    try:
        with urllib.request.urlopen(r, timeout=30) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


before = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", []))
up = s3.create_multipart_upload(Bucket=bucket, Key="mp/x")["UploadId"]
for body in [b"<CompleteMultipartUpload><Part>", b"not xml at all", b"\x00\xff" * 100,
             b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'aaaa'>]><CompleteMultipartUpload>&a;</CompleteMultipartUpload>"]:
    status, text = raw("POST", f"/{bucket}/mp/x?uploadId={up}", body)
    check(400 <= status < 500, f"complete with {body[:20]!r}: {status} {text[:200]!r}")
for body in [b"<Delete><Object><Key>solo/0/0", b"garbage", b"<Delete></Delete>" * 1000]:
    md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
    status, text = raw("POST", f"/{bucket}?delete", body, {"Content-MD5": md5})
    check(400 <= status < 500, f"delete with {body[:20]!r}: {status} {text[:200]!r}")
status, _ = raw("PUT", f"/{bucket}/" + "k" * 5000, b"x")
check(status == 400, f"a 5000-byte key: {status}")
after = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", []))
check(before == after, "hostile bodies changed the bucket")
s3.abort_multipart_upload(Bucket=bucket, Key="mp/x", UploadId=up)

print(f"reads that broke off because their object was replaced meanwhile: {broken_reads[0]}")
print("all checks passed")
