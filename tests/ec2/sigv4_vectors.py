#!/usr/bin/python3
"""Known-answer vectors for src/auth/sigv4_test.cc, made with botocore's own signer (Debian's
python3-botocore, the signer the stock aws CLI uses) with the clock fixed. Run it to see where
the constants in the unit test come from:  /usr/bin/python3 tests/ec2/sigv4_vectors.py"""
import datetime
from unittest import mock

from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

CREDS = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
FIXED = datetime.datetime(2024, 1, 1, 0, 0, 0)


def signed(request, auth):
    with mock.patch("botocore.auth.datetime") as dt:
        dt.datetime.utcnow.return_value = FIXED
        dt.datetime.now.return_value = FIXED
        auth.add_auth(request)
    return request


def header_form(name, url, body, region="us-east-1"):
    req = AWSRequest(method="POST", url=url, data=body,
                     headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    signed(req, SigV4Auth(CREDS, "ec2", region))
    print(f"{name}: body={body!r}\n  Authorization: {req.headers['Authorization']}")


def query_form(name, url, params, region="us-east-1"):
    req = AWSRequest(method="GET", url=url, params=params)
    signed(req, SigV4QueryAuth(CREDS, "ec2", region, expires=3600))
    print(f"{name}: {req.url}")


header_form("describe", "https://127.0.0.1:8443/",
            "Action=DescribeVolumes&Version=2016-11-15&VolumeId.1=vol-0123456789abcdef0")
header_form("form-escapes", "https://localhost:9443/",
            "Action=CreateSnapshot&Version=2016-11-15&Description=a+b%2Bc%2Fd%26e%3Df+%C3%BC~%2A"
            "&VolumeId=vol-0123456789abcdef0", region="mycloud-1")
query_form("presigned", "https://127.0.0.1:8443/",
           {"Action": "CopySnapshot", "SourceRegion": "us-east-1",
            "SourceSnapshotId": "snap-0123456789abcdef0", "Description": "a b/c"})
