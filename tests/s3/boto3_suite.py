"""S3 behaviour of a gateway, checked with boto3 the way applications use it.

Usage: boto3_suite.py ENDPOINT ACCESS_KEY SECRET_KEY

Every check asserts what S3 does; the first failure ends the run with a message and a
non-zero status. Buckets are named with a random suffix so that runs do not collide.
With S3_PLAIN_BUCKET set, the suite creates that bucket with its object names in clear
(CreateBucket with the location constraint "plain-names") and runs only the listing
checks, in that bucket.
"""

import hashlib
import io
import os
import secrets
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import boto3
import urllib3
import botocore
from botocore.config import Config
from botocore.exceptions import ClientError

ENDPOINT, ACCESS, SECRET = sys.argv[1:4]
MIB = 1 << 20


def client(access=ACCESS, secret=SECRET, **cfg):
    return boto3.client(
        "s3",
        endpoint_url=ENDPOINT,
        aws_access_key_id=access,
        aws_secret_access_key=secret,
        region_name="us-east-1",
        config=Config(
            s3={"addressing_style": "path"},
            retries={"max_attempts": 1},
            **cfg,
        ),
    )


s3 = client()


def error_of(fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except ClientError as e:
        return e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]
    raise AssertionError(f"{fn.__name__} succeeded but should have failed")


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def md5(data):
    return hashlib.md5(data).hexdigest()


suffix = secrets.token_hex(4)
bucket = f"suite-{suffix}"
other = f"suite-other-{suffix}"


def buckets():
    s3.create_bucket(Bucket=bucket)
    s3.create_bucket(Bucket=other)
    names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    check(bucket in names and other in names, f"list_buckets: {names}")
    s3.head_bucket(Bucket=bucket)
    loc = s3.get_bucket_location(Bucket=bucket)
    check(loc.get("LocationConstraint") in (None, ""), f"location {loc}")
    check(error_of(s3.head_bucket, Bucket=f"missing-{suffix}")[1] == 404, "head missing bucket")
    code, status = error_of(s3.list_objects_v2, Bucket=f"missing-{suffix}")
    check((code, status) == ("NoSuchBucket", 404), f"list missing bucket: {code} {status}")
    code, _ = error_of(s3.create_bucket, Bucket=bucket)
    check(code in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"), f"create twice: {code}")


def objects():
    data = os.urandom(300_000)
    put = s3.put_object(
        Bucket=bucket,
        Key="docs/report.pdf",
        Body=data,
        ContentType="application/pdf",
        Metadata={"author": "ada", "dept": "r&d"},
    )
    check(put["ETag"] == f'"{md5(data)}"', f"put etag {put['ETag']}")
    got = s3.get_object(Bucket=bucket, Key="docs/report.pdf")
    body = got["Body"].read()
    check(body == data, "get returns the bytes put")
    check(got["ETag"] == put["ETag"], "get etag")
    check(got["ContentType"] == "application/pdf", f"content type {got['ContentType']}")
    check(got["Metadata"] == {"author": "ada", "dept": "r&d"}, f"metadata {got['Metadata']}")
    check(got["ContentLength"] == len(data), "content length")
    head = s3.head_object(Bucket=bucket, Key="docs/report.pdf")
    check(head["ContentLength"] == len(data) and head["ETag"] == put["ETag"], "head")
    check(error_of(s3.head_object, Bucket=bucket, Key="docs/none")[1] == 404, "head missing")
    code, status = error_of(s3.get_object, Bucket=bucket, Key="docs/none")
    check((code, status) == ("NoSuchKey", 404), f"get missing: {code} {status}")

    # Ranges: start-end, open-ended, suffix, past the end.
    r = s3.get_object(Bucket=bucket, Key="docs/report.pdf", Range="bytes=1000-1999")
    check(r["Body"].read() == data[1000:2000], "range 1000-1999")
    check(r["ContentRange"] == f"bytes 1000-1999/{len(data)}", r["ContentRange"])
    check(r["ResponseMetadata"]["HTTPStatusCode"] == 206, "206 for a range")
    r = s3.get_object(Bucket=bucket, Key="docs/report.pdf", Range="bytes=299000-")
    check(r["Body"].read() == data[299000:], "open-ended range")
    r = s3.get_object(Bucket=bucket, Key="docs/report.pdf", Range="bytes=-500")
    check(r["Body"].read() == data[-500:], "suffix range")
    code, status = error_of(s3.get_object, Bucket=bucket, Key="docs/report.pdf", Range=f"bytes={len(data)}-")
    check((code, status) == ("InvalidRange", 416), f"range past the end: {code} {status}")

    # Conditional reads.
    etag = put["ETag"]
    code, status = error_of(s3.get_object, Bucket=bucket, Key="docs/report.pdf", IfNoneMatch=etag)
    check(status == 304, f"If-None-Match matching: {status}")
    code, status = error_of(s3.get_object, Bucket=bucket, Key="docs/report.pdf", IfMatch='"0000"')
    check((code, status) == ("PreconditionFailed", 412), f"If-Match other: {code} {status}")
    s3.get_object(Bucket=bucket, Key="docs/report.pdf", IfMatch=etag)["Body"].read()

    # Conditional write: If-None-Match: * refuses an existing key, takes a new one.
    code, status = error_of(s3.put_object, Bucket=bucket, Key="docs/report.pdf", Body=b"x", IfNoneMatch="*")
    check((code, status) == ("PreconditionFailed", 412), f"put If-None-Match *: {code} {status}")
    check(s3.get_object(Bucket=bucket, Key="docs/report.pdf")["Body"].read() == data, "unchanged")
    s3.put_object(Bucket=bucket, Key="docs/new.txt", Body=b"fresh", IfNoneMatch="*")

    # Empty objects, and a Content-MD5 that does not match is refused and stores nothing.
    s3.put_object(Bucket=bucket, Key="empty", Body=b"")
    check(s3.get_object(Bucket=bucket, Key="empty")["Body"].read() == b"", "empty object")
    import base64
    wrong = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    code, status = error_of(s3.put_object, Bucket=bucket, Key="docs/bad-md5", Body=b"content", ContentMD5=wrong)
    check((code, status) == ("BadDigest", 400), f"wrong Content-MD5: {code} {status}")
    check(error_of(s3.head_object, Bucket=bucket, Key="docs/bad-md5")[1] == 404, "bad md5 stored nothing")
    # An explicit SHA-256 checksum is verified and echoed.
    ok = s3.put_object(Bucket=bucket, Key="docs/sha", Body=b"abc", ChecksumAlgorithm="SHA256")
    check(ok.get("ChecksumSHA256") == base64.b64encode(hashlib.sha256(b"abc").digest()).decode(), f"sha256 echo {ok}")

    # Limits are 400s, not 500s.
    code, status = error_of(s3.put_object, Bucket=bucket, Key="k" * 1100, Body=b"x")
    check(status == 400, f"too-long key: {code} {status}")
    code, status = error_of(s3.put_object, Bucket=bucket, Key="meta", Body=b"x", Metadata={"big": "v" * 3000})
    check(status == 400, f"too-large metadata: {code} {status}")

    # Delete, and delete of nothing.
    s3.delete_object(Bucket=bucket, Key="docs/new.txt")
    s3.delete_object(Bucket=bucket, Key="docs/new.txt")
    check(error_of(s3.head_object, Bucket=bucket, Key="docs/new.txt")[1] == 404, "deleted")


def listings(other):
    keys = [f"photos/2024/{i:02}.jpg" for i in range(5)] + [
        "photos/2025/a.jpg",
        "photos/2025/b.jpg",
        "photos/readme.txt",
        "photos/2024-index.txt",
        "top.txt",
    ]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda k: s3.put_object(Bucket=other, Key=k, Body=k.encode()), keys))

    # Delimiter '/', paged two at a time: every key and prefix exactly once.
    seen_keys, seen_prefixes, token = [], [], None
    while True:
        kw = dict(Bucket=other, Prefix="photos/", Delimiter="/", MaxKeys=2)
        if token:
            kw["ContinuationToken"] = token
        page = s3.list_objects_v2(**kw)
        seen_keys += [o["Key"] for o in page.get("Contents", [])]
        seen_prefixes += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
        check(page["KeyCount"] <= 2, "page size")
        if not page["IsTruncated"]:
            break
        token = page["NextContinuationToken"]
    check(sorted(seen_keys) == ["photos/2024-index.txt", "photos/readme.txt"], f"keys {seen_keys}")
    check(sorted(seen_prefixes) == ["photos/2024/", "photos/2025/"], f"prefixes {seen_prefixes}")

    # Recursive, all pages, with v1 markers.
    seen, marker = [], ""
    while True:
        page = s3.list_objects(Bucket=other, Prefix="photos/", MaxKeys=3, Marker=marker)
        contents = page.get("Contents", [])
        seen += [o["Key"] for o in contents]
        if not page["IsTruncated"]:
            break
        marker = page.get("NextMarker") or contents[-1]["Key"]
    check(sorted(seen) == sorted(k for k in keys if k.startswith("photos/")), f"v1 recursive {seen}")
    check(len(seen) == len(set(seen)), "no repeats")

    # A prefix that ends mid-name, and a delimiter other than '/': S3's order exactly.
    page = s3.list_objects_v2(Bucket=other, Prefix="photos/2024")
    got = [o["Key"] for o in page.get("Contents", [])]
    check(got == sorted(k for k in keys if k.startswith("photos/2024")), f"mid-name prefix {got}")
    page = s3.list_objects_v2(Bucket=other, Prefix="photos/2024", Delimiter="/")
    check([p["Prefix"] for p in page.get("CommonPrefixes", [])] == ["photos/2024/"], f"{page.get('CommonPrefixes')}")
    check([o["Key"] for o in page.get("Contents", [])] == ["photos/2024-index.txt"], f"{page.get('Contents')}")
    page = s3.list_objects_v2(Bucket=other, Prefix="photos/", Delimiter=".")
    prefixes = [p["Prefix"] for p in page.get("CommonPrefixes", [])]
    check(prefixes == sorted(set(k[: k.index(".", 7) + 1] for k in keys if k.startswith("photos/"))), f"dot delimiter {prefixes}")
    # ...paged, with continuation tokens.
    seen, token = [], None
    while True:
        kw = dict(Bucket=other, Prefix="photos/2", MaxKeys=2)
        if token:
            kw["ContinuationToken"] = token
        page = s3.list_objects_v2(**kw)
        seen += [o["Key"] for o in page.get("Contents", [])]
        if not page["IsTruncated"]:
            break
        token = page["NextContinuationToken"]
    check(seen == sorted(k for k in keys if k.startswith("photos/2")), f"paged mid-name {seen}")
    page = s3.list_objects_v2(Bucket=other, Prefix="photos/2024/", StartAfter="photos/2024/02.jpg")
    got = [o["Key"] for o in page.get("Contents", [])]
    check(set(got) <= set(keys) and "photos/2024/02.jpg" not in got, f"start-after {got}")
    check(s3.list_objects_v2(Bucket=other, MaxKeys=0)["KeyCount"] == 0, "max-keys 0")

    # Delete many, then the bucket is empty and can go.
    resp = s3.delete_objects(Bucket=other, Delete={"Objects": [{"Key": k} for k in keys] + [{"Key": "never-was"}]})
    check(len(resp.get("Deleted", [])) == len(keys) + 1 and not resp.get("Errors"), f"delete_objects {resp}")
    check(s3.list_objects_v2(Bucket=other)["KeyCount"] == 0, "emptied")


def multipart():
    key = "big/video.mp4"
    up = s3.create_multipart_upload(Bucket=bucket, Key=key, ContentType="video/mp4", Metadata={"title": "film"})
    uid = up["UploadId"]
    parts = [os.urandom(5 * MIB), os.urandom(5 * MIB), os.urandom(1234)]

    def send(n):
        r = s3.upload_part(Bucket=bucket, Key=key, UploadId=uid, PartNumber=n, Body=parts[n - 1])
        check(r["ETag"] == f'"{md5(parts[n - 1])}"', f"part {n} etag {r['ETag']}")
        return n, r["ETag"]

    with ThreadPoolExecutor(3) as pool:
        etags = dict(pool.map(send, [3, 1, 2]))
    listed = s3.list_parts(Bucket=bucket, Key=key, UploadId=uid)
    check([p["PartNumber"] for p in listed["Parts"]] == [1, 2, 3], f"list parts {listed['Parts']}")
    check([p["Size"] for p in listed["Parts"]] == [len(p) for p in parts], "part sizes")
    page = s3.list_parts(Bucket=bucket, Key=key, UploadId=uid, MaxParts=2)
    check(page["IsTruncated"] and page["NextPartNumberMarker"] == 2, f"parts paging {page}")
    uploads = s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    check(any(u["UploadId"] == uid and u["Key"] == key for u in uploads), f"list uploads {uploads}")
    # Several uploads of one key, paged one at a time by key and upload-id markers.
    same = [s3.create_multipart_upload(Bucket=bucket, Key="big/same.bin")["UploadId"] for _ in range(3)]
    seen, kw = [], {}
    while True:
        page = s3.list_multipart_uploads(Bucket=bucket, Prefix="big/", MaxUploads=1, **kw)
        seen += [(u["Key"], u["UploadId"]) for u in page.get("Uploads", [])]
        if not page["IsTruncated"]:
            break
        kw = dict(KeyMarker=page["NextKeyMarker"], UploadIdMarker=page["NextUploadIdMarker"])
    want = sorted([("big/same.bin", u) for u in same] + [(key, uid)])
    check(sorted(seen) == want and len(seen) == len(want), f"uploads paged by markers {seen}")
    check([k for k, _ in seen] == sorted(k for k, _ in seen), f"uploads in key order {seen}")
    for u in same:
        s3.abort_multipart_upload(Bucket=bucket, Key="big/same.bin", UploadId=u)

    # Refusals leave the upload as it was.
    code, _ = error_of(s3.complete_multipart_upload, Bucket=bucket, Key=key, UploadId=uid,
                       MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etags[2]}]})
    check(code == "InvalidPart", f"wrong etag: {code}")
    code, _ = error_of(s3.complete_multipart_upload, Bucket=bucket, Key=key, UploadId=uid,
                       MultipartUpload={"Parts": [{"PartNumber": 2, "ETag": etags[2]}, {"PartNumber": 1, "ETag": etags[1]}]})
    check(code == "InvalidPartOrder", f"order: {code}")
    small = s3.create_multipart_upload(Bucket=bucket, Key="small-parts")["UploadId"]
    e1 = s3.upload_part(Bucket=bucket, Key="small-parts", UploadId=small, PartNumber=1, Body=b"a" * 1000)["ETag"]
    e2 = s3.upload_part(Bucket=bucket, Key="small-parts", UploadId=small, PartNumber=2, Body=b"b")["ETag"]
    code, status = error_of(s3.complete_multipart_upload, Bucket=bucket, Key="small-parts", UploadId=small,
                            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]})
    check((code, status) == ("EntityTooSmall", 400), f"small part: {code} {status}")
    s3.abort_multipart_upload(Bucket=bucket, Key="small-parts", UploadId=small)
    code, status = error_of(s3.list_parts, Bucket=bucket, Key="small-parts", UploadId=small)
    check((code, status) == ("NoSuchUpload", 404), f"aborted upload: {code} {status}")

    done = s3.complete_multipart_upload(
        Bucket=bucket, Key=key, UploadId=uid,
        MultipartUpload={"Parts": [{"PartNumber": n, "ETag": etags[n]} for n in (1, 2, 3)]},
    )
    whole = b"".join(parts)
    expected = hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest() + "-3"
    check(done["ETag"] == f'"{expected}"', f"complete etag {done['ETag']}")
    got = s3.get_object(Bucket=bucket, Key=key)
    check(got["Body"].read() == whole, "multipart content")
    check(got["ContentType"] == "video/mp4" and got["Metadata"] == {"title": "film"}, "multipart metadata")
    start = 5 * MIB - 100
    r = s3.get_object(Bucket=bucket, Key=key, Range=f"bytes={start}-{start + 199}")
    check(r["Body"].read() == whole[start:start + 200], "range across parts")
    check(error_of(s3.list_parts, Bucket=bucket, Key=key, UploadId=uid)[0] == "NoSuchUpload", "completed upload gone")

    # Completion with If-None-Match: * over an existing key.
    again = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    e = s3.upload_part(Bucket=bucket, Key=key, UploadId=again, PartNumber=1, Body=b"new")["ETag"]
    code, status = error_of(s3.complete_multipart_upload, Bucket=bucket, Key=key, UploadId=again, IfNoneMatch="*",
                            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e}]})
    check((code, status) == ("PreconditionFailed", 412), f"complete If-None-Match: {code} {status}")
    s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=again)
    check(s3.get_object(Bucket=bucket, Key=key)["Body"].read() == whole, "unchanged after refused completion")

    # The managed transfer (what aws cli and most tools do): chunked, parallel parts.
    blob = os.urandom(12 * MIB + 77)
    cfg = boto3.s3.transfer.TransferConfig(multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB, max_concurrency=4)
    s3.upload_fileobj(io.BytesIO(blob), bucket, "big/managed.bin", Config=cfg)
    out = io.BytesIO()
    s3.download_fileobj(bucket, "big/managed.bin", out, Config=cfg)
    check(out.getvalue() == blob, "managed transfer round trip")


def copies():
    data = os.urandom(700_000)
    put = s3.put_object(Bucket=bucket, Key="copy/src.bin", Body=data, ContentType="application/x-src", Metadata={"a": "1"})
    r = s3.copy_object(Bucket=other, Key="copied/dst.bin", CopySource={"Bucket": bucket, "Key": "copy/src.bin"})
    check(r["CopyObjectResult"]["ETag"] == put["ETag"], f"copy etag {r}")
    got = s3.get_object(Bucket=other, Key="copied/dst.bin")
    check(got["Body"].read() == data, "copied content")
    check(got["ContentType"] == "application/x-src" and got["Metadata"] == {"a": "1"}, "copied metadata")
    s3.copy_object(Bucket=bucket, Key="copy/src.bin", CopySource={"Bucket": bucket, "Key": "copy/src.bin"},
                   MetadataDirective="REPLACE", ContentType="text/plain", Metadata={"b": "2"})
    head = s3.head_object(Bucket=bucket, Key="copy/src.bin")
    check(head["ContentType"] == "text/plain" and head["Metadata"] == {"b": "2"}, f"replace in place {head}")
    code, _ = error_of(s3.copy_object, Bucket=bucket, Key="copy/src.bin", CopySource={"Bucket": bucket, "Key": "copy/src.bin"})
    check(code == "InvalidRequest", f"copy onto itself: {code}")
    code, status = error_of(s3.copy_object, Bucket=bucket, Key="copy/x", CopySource={"Bucket": bucket, "Key": "copy/src.bin"},
                            CopySourceIfMatch='"00"')
    check((code, status) == ("PreconditionFailed", 412), f"copy-source-if-match: {code} {status}")
    code, _ = error_of(s3.copy_object, Bucket=bucket, Key="copy/x", CopySource={"Bucket": bucket, "Key": "copy/none"})
    check(code == "NoSuchKey", f"copy of nothing: {code}")
    # A multipart upload from ranges of an existing object.
    src = os.urandom(6 * MIB)
    s3.put_object(Bucket=bucket, Key="copy/big", Body=src)
    uid = s3.create_multipart_upload(Bucket=bucket, Key="copy/assembled")["UploadId"]
    p1 = s3.upload_part_copy(Bucket=bucket, Key="copy/assembled", UploadId=uid, PartNumber=1,
                             CopySource={"Bucket": bucket, "Key": "copy/big"}, CopySourceRange=f"bytes=0-{5 * MIB - 1}")
    p2 = s3.upload_part(Bucket=bucket, Key="copy/assembled", UploadId=uid, PartNumber=2, Body=b"tail")
    s3.complete_multipart_upload(Bucket=bucket, Key="copy/assembled", UploadId=uid, MultipartUpload={"Parts": [
        {"PartNumber": 1, "ETag": p1["CopyPartResult"]["ETag"]}, {"PartNumber": 2, "ETag": p2["ETag"]}]})
    check(s3.get_object(Bucket=bucket, Key="copy/assembled")["Body"].read() == src[: 5 * MIB] + b"tail", "part copy")
    s3.delete_objects(Bucket=other, Delete={"Objects": [{"Key": "copied/dst.bin"}]})


def presigned_and_auth():
    s3.put_object(Bucket=bucket, Key="shared/file.txt", Body=b"presigned content")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "shared/file.txt"}, ExpiresIn=300)
    check(urllib.request.urlopen(url).read() == b"presigned content", "presigned GET")
    # SigV4 query signatures (what current SDKs and the aws cli produce), GET and PUT.
    v4 = client(signature_version="s3v4")
    url4 = v4.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "shared/file.txt"}, ExpiresIn=300)
    check("X-Amz-Signature=" in url4, url4)
    check(urllib.request.urlopen(url4).read() == b"presigned content", "presigned v4 GET")
    put_url = v4.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "shared/upload.txt"}, ExpiresIn=300)
    r = urllib3.request("PUT", put_url, body=b"uploaded by url")
    check(r.status == 200, f"presigned PUT: {r.status} {r.data!r}")
    check(s3.get_object(Bucket=bucket, Key="shared/upload.txt")["Body"].read() == b"uploaded by url", "presigned PUT")
    # A tampered presigned URL, an expired one, and no signature at all are refused.
    tampered = url.replace("shared/file.txt", "shared/upload.txt")
    try:
        urllib.request.urlopen(tampered)
        raise AssertionError("tampered presigned URL accepted")
    except urllib.error.HTTPError as e:
        check(e.code == 403 and b"SignatureDoesNotMatch" in e.read(), f"tampered: {e.code}")
    # A signed URL replayed for something else: the GET link sent as DELETE and as PUT
    # (the method is signed), the PUT link with a longer expiry or to another key.
    # Each is refused and changes nothing.
    for method in ("DELETE", "PUT"):
        r = urllib3.request(method, url4, body=b"replaced" if method == "PUT" else None)
        check(r.status == 403, f"presigned GET replayed as {method}: {r.status} {r.data!r}")
    longer = put_url.replace("X-Amz-Expires=300", "X-Amz-Expires=604800")
    check(longer != put_url, put_url)
    moved = put_url.replace("shared/upload.txt", "shared/file.txt")
    for forged in (longer, moved):
        r = urllib3.request("PUT", forged, body=b"forged")
        check(r.status == 403 and b"SignatureDoesNotMatch" in r.data, f"forged presigned PUT: {r.status} {r.data!r}")
    check(s3.get_object(Bucket=bucket, Key="shared/file.txt")["Body"].read() == b"presigned content", "replays changed nothing")
    check(s3.get_object(Bucket=bucket, Key="shared/upload.txt")["Body"].read() == b"uploaded by url", "forgeries changed nothing")
    expired = [
        c.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "shared/file.txt"}, ExpiresIn=1)
        for c in (s3, v4)
    ]
    time.sleep(2)
    for url_ in expired:
        try:
            urllib.request.urlopen(url_)
            raise AssertionError(f"expired presigned URL accepted: {url_}")
        except urllib.error.HTTPError as e:
            check(e.code == 403, f"expired: {e.code}")
    try:
        urllib.request.urlopen(f"{ENDPOINT}/{bucket}/shared/file.txt")
        raise AssertionError("anonymous request accepted")
    except urllib.error.HTTPError as e:
        check(e.code == 403, f"anonymous: {e.code}")
    code, status = error_of(client(secret=SECRET + "x").list_buckets)
    check((code, status) == ("SignatureDoesNotMatch", 403), f"wrong secret: {code} {status}")
    code, status = error_of(client(access="AKNOTAKEY0000000000").list_buckets)
    check((code, status) == ("InvalidAccessKeyId", 403), f"unknown key: {code} {status}")


def http(method, url, headers, body=None):
    """One plain HTTP request, as a browser would send it: (status, headers, body)."""
    req = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


def cors():
    """Per-bucket CORS: the rules round-trip, preflights and answers follow them."""
    hosted = os.environ.get("S3_GATEWAY_KIND") == "hosted"
    web = f"cors-{secrets.token_hex(4)}"
    s3.create_bucket(Bucket=web)
    code, status = error_of(s3.get_bucket_cors, Bucket=web)
    check((code, status) == ("NoSuchCORSConfiguration", 404), f"no rules yet: {code} {status}")
    app = "https://app.example"
    rules = [
        {
            "AllowedOrigins": [app],
            "AllowedMethods": ["GET", "PUT"],
            "AllowedHeaders": ["content-type", "x-amz-*"],
            "ExposeHeaders": ["ETag"],
            "MaxAgeSeconds": 600,
        },
        {"AllowedOrigins": ["*"], "AllowedMethods": ["GET"]},
    ]
    s3.put_bucket_cors(Bucket=web, CORSConfiguration={"CORSRules": rules})
    got = s3.get_bucket_cors(Bucket=web)["CORSRules"]
    check(
        len(got) == 2
        and got[0]["AllowedOrigins"] == [app]
        and got[0]["AllowedMethods"] == ["GET", "PUT"]
        and got[0]["ExposeHeaders"] == ["ETag"]
        and got[0]["MaxAgeSeconds"] == 600
        and got[1]["AllowedOrigins"] == ["*"],
        f"rules round-trip: {got}",
    )
    # A bad configuration is refused and the old one stays.
    bad = {"CORSRules": [{"AllowedOrigins": ["*"], "AllowedMethods": ["PATCH"]}]}
    code, status = error_of(s3.put_bucket_cors, Bucket=web, CORSConfiguration=bad)
    check(status == 400, f"bad rules: {code} {status}")
    check(len(s3.get_bucket_cors(Bucket=web)["CORSRules"]) == 2, "bad rules changed nothing")
    code, status = error_of(s3.put_bucket_cors, Bucket="no-such-" + web, CORSConfiguration={"CORSRules": rules})
    check((code, status) == ("NoSuchBucket", 404), f"rules for a missing bucket: {code} {status}")

    # The browser upload flow: a presigned PUT (SigV4, as current SDKs make them), its
    # preflight, the PUT, a GET back.
    v4 = client(signature_version="s3v4")
    put_url = v4.generate_presigned_url("put_object", Params={"Bucket": web, "Key": "page.txt"}, ExpiresIn=300)
    status, h, _ = http("OPTIONS", put_url, {
        "Origin": app, "Access-Control-Request-Method": "PUT",
        "Access-Control-Request-Headers": "Content-Type"})
    check(status == 200, f"preflight for the app: {status}")
    check(h.get("access-control-allow-origin") == app, f"allow-origin: {h}")
    check("PUT" in h.get("access-control-allow-methods", ""), f"allow-methods: {h}")
    check(h.get("access-control-allow-headers") == "content-type", f"allow-headers: {h}")
    check(h.get("access-control-max-age") == "600", f"max-age: {h}")
    check("Origin" in h.get("vary", ""), f"vary: {h}")
    for origin, method, asked in [
        ("https://evil.example", "PUT", None),  # PUT is only for the app
        (app, "DELETE", None),  # no rule allows DELETE
        (app, "PUT", "x-other"),  # a header no rule allows
        ("https://app.example.evil", "PUT", None),
    ]:
        headers = {"Origin": origin, "Access-Control-Request-Method": method}
        if asked:
            headers["Access-Control-Request-Headers"] = asked
        status, h, body = http("OPTIONS", put_url, headers)
        check(status == 403 and b"AccessForbidden" in body, f"preflight {origin} {method} {asked}: {status} {body[:200]}")
        check("access-control-allow-origin" not in h, f"refused preflight allows nothing: {h}")
    status, h, _ = http("PUT", put_url, {"Origin": app, "Content-Type": "text/plain"}, b"from a page")
    check(status == 200, f"browser PUT: {status}")
    check(h.get("access-control-allow-origin") == app, f"PUT answer readable by the app: {h}")
    check(h.get("access-control-expose-headers") == "ETag", f"ETag exposed: {h}")
    get_url = v4.generate_presigned_url("get_object", Params={"Bucket": web, "Key": "page.txt"}, ExpiresIn=300)
    status, h, body = http("GET", get_url, {"Origin": "https://anyone.example"})
    check(status == 200 and body == b"from a page", f"GET back: {status} {body[:100]}")
    check(h.get("access-control-allow-origin") == "*", f"the GET rule allows any origin: {h}")
    # Error answers carry the headers too, so that a page can read why.
    missing = v4.generate_presigned_url("get_object", Params={"Bucket": web, "Key": "none"}, ExpiresIn=300)
    status, h, _ = http("GET", missing, {"Origin": app})
    check(status == 404 and h.get("access-control-allow-origin") == app, f"404 readable: {status} {h}")
    # No Origin, no CORS headers; an origin no rule allows for the method gets none.
    status, h, _ = http("GET", get_url, {})
    check(status == 200 and "access-control-allow-origin" not in h, f"no origin: {h}")
    status, h, _ = http("PUT", put_url, {"Origin": "https://evil.example"}, b"x")
    check("access-control-allow-origin" not in h, f"evil PUT answer not readable: {status} {h}")

    # A preflight with no credential: the self-hosted gateway knows whose bucket it is
    # and applies the rules; the hosted one cannot tell, lets the S3 method through,
    # and leaves the decision to the rules on the signed request.
    plain = f"{ENDPOINT}/{web}/page.txt"
    status, h, _ = http("OPTIONS", plain, {"Origin": "https://evil.example", "Access-Control-Request-Method": "PUT"})
    if hosted:
        check(status == 200 and h.get("access-control-allow-origin") == "https://evil.example", f"hosted unsigned preflight: {status} {h}")
    else:
        check(status == 403, f"self-hosted unsigned preflight follows the rules: {status} {h}")

    s3.delete_bucket_cors(Bucket=web)
    code, status = error_of(s3.get_bucket_cors, Bucket=web)
    check((code, status) == ("NoSuchCORSConfiguration", 404), f"rules deleted: {code} {status}")
    status, h, body = http("OPTIONS", put_url, {"Origin": app, "Access-Control-Request-Method": "PUT"})
    check(status == 403 and b"not enabled" in body, f"preflight after delete: {status} {body[:200]}")
    # A SigV2 presigned URL names its key differently; its preflight is decided alike.
    v2_url = s3.generate_presigned_url("get_object", Params={"Bucket": web, "Key": "page.txt"}, ExpiresIn=300)
    check("AWSAccessKeyId=" in v2_url, v2_url)
    status, h, body = http("OPTIONS", v2_url, {"Origin": app, "Access-Control-Request-Method": "GET"})
    check(status == 403 and b"not enabled" in body, f"v2 preflight after delete: {status} {body[:200]}")
    status, h, _ = http("GET", get_url, {"Origin": app})
    check(status == 200 and "access-control-allow-origin" not in h, f"no rules, no headers: {h}")
    s3.delete_object(Bucket=web, Key="page.txt")
    s3.delete_bucket(Bucket=web)


def teardown():
    code, _ = error_of(s3.delete_bucket, Bucket=bucket)
    check(code == "BucketNotEmpty", f"delete non-empty bucket: {code}")
    s3.delete_bucket(Bucket=other)


plain = os.environ.get("S3_PLAIN_BUCKET")
if plain:
    s3.create_bucket(Bucket=plain, CreateBucketConfiguration={"LocationConstraint": "plain-names"})
    loc = s3.get_bucket_location(Bucket=plain).get("LocationConstraint")
    check(loc == "plain-names", f"a bucket with names in clear reports its location as {loc!r}")
    listings(plain)
    print("ok listings in a bucket with names in clear", flush=True)
else:
    def listings_in_other():
        listings(other)

    for step in (buckets, objects, listings_in_other, multipart, copies, presigned_and_auth, cors, teardown):
        step()
        print(f"ok {step.__name__}", flush=True)
print(f"boto3 {boto3.__version__} botocore {botocore.__version__}: all checks passed")
