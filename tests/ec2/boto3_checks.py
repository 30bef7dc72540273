#!/usr/bin/python3
"""Checks of the EC2 face with boto3 and raw SigV4-signed requests (run by boto3_checks.sh).
Environment: ENDPOINT (https://127.0.0.1:PORT), CA (the VBS CA bundle), CREDS (a directory
with alice.aws-credentials and bob.aws-credentials written by `vbs admin user create`)."""
import configparser
import datetime
import hashlib
import os
import ssl
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from unittest import mock

import boto3
import botocore.exceptions
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

ENDPOINT, CA, CREDS = os.environ["ENDPOINT"], os.environ["CA"], os.environ["CREDS"]
REGION = "us-east-1"
failures = 0


def check(cond, what):
    global failures
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures += 1


def keys(user):
    c = configparser.ConfigParser()
    c.read(f"{CREDS}/{user}.aws-credentials")
    return c["default"]["aws_access_key_id"], c["default"]["aws_secret_access_key"]


def client(user):
    akid, secret = keys(user)
    return boto3.client("ec2", endpoint_url=ENDPOINT, region_name=REGION, verify=CA,
                        aws_access_key_id=akid, aws_secret_access_key=secret,
                        config=Config(retries={"max_attempts": 1}))


def error_code(fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except botocore.exceptions.ClientError as e:
        return e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]
    return None, 200


def wait_state(ec2, vol, state):
    deadline = time.time() + 60
    while time.time() < deadline:
        v = ec2.describe_volumes(VolumeIds=[vol])["Volumes"][0]
        if v["State"] == state:
            return v
        time.sleep(0.2)
    raise SystemExit(f"{vol} never reached {state}")


def raw(body, akid=None, secret=None, when=None, method="POST", sign=True, query=None):
    """Sends one request signed by botocore's SigV4 (clock `when`); returns (status, code)."""
    if akid is None:
        akid, secret = keys("alice")
    url = ENDPOINT + "/" + (("?" + urllib.parse.urlencode(query)) if query else "")
    headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    req = AWSRequest(method=method, url=url, data=body if method == "POST" else None,
                     headers=headers if method == "POST" else {})
    if sign:
        with mock.patch("botocore.auth.datetime") as dt:
            fixed = when or datetime.datetime.utcnow()
            dt.datetime.utcnow.return_value = fixed
            dt.datetime.now.return_value = fixed
            SigV4Auth(Credentials(akid, secret), "ec2", REGION).add_auth(req)
    prepared = req.prepare()
    data = prepared.body.encode() if isinstance(prepared.body, str) else prepared.body
    r = urllib.request.Request(prepared.url, data=data, method=method,
                               headers=dict(prepared.headers))
    ctx = ssl.create_default_context(cafile=CA)
    try:
        with urllib.request.urlopen(r, context=ctx) as resp:
            return resp.status, None, resp.read()
    except urllib.error.HTTPError as e:
        text = e.read()
        code = ET.fromstring(text).findtext("Errors/Error/Code")
        return e.code, code, text


def volume_ids(ec2):
    return sorted(v["VolumeId"] for v in ec2.describe_volumes()["Volumes"])


alice, bob = client("alice"), client("bob")

# --- ClientToken: a retried create makes one volume --------------------------------------
a1 = alice.create_volume(Size=1, AvailabilityZone="default", ClientToken="retry-token-1")
a2 = alice.create_volume(Size=1, AvailabilityZone="default", ClientToken="retry-token-1")
check(a1["VolumeId"] == a2["VolumeId"], "same ClientToken, same volume")
check(volume_ids(alice) == [a1["VolumeId"]], "exactly one volume after the retry")
check(error_code(alice.create_volume, Size=2, AvailabilityZone="default",
                 ClientToken="retry-token-1") == ("IdempotentParameterMismatch", 400),
      "same token, other size: IdempotentParameterMismatch 400")
vol = a1["VolumeId"]
alice.get_waiter("volume_available").wait(VolumeIds=[vol], WaiterConfig={"Delay": 1})

# --- a second user sees and touches nothing of alice's -------------------------------------
check(vol not in volume_ids(bob), "bob's list lacks alice's volume")
for name, call, kwargs, code in [
        ("describe", bob.describe_volumes, {"VolumeIds": [vol]}, "InvalidVolume.NotFound"),
        ("delete", bob.delete_volume, {"VolumeId": vol}, "InvalidVolume.NotFound"),
        ("snapshot", bob.create_snapshot, {"VolumeId": vol}, "InvalidVolume.NotFound"),
        ("tag", bob.create_tags, {"Resources": [vol], "Tags": [{"Key": "x", "Value": "y"}]},
         "InvalidVolume.NotFound"),
        ("attach", bob.attach_volume, {"VolumeId": vol, "InstanceId": "host-local",
                                       "Device": "/dev/vdb"}, "InvalidVolume.NotFound"),
        ("modify", bob.modify_volume, {"VolumeId": vol, "Size": 2}, "InvalidVolume.NotFound"),
        ("list modifications", bob.describe_volumes_modifications, {"VolumeIds": [vol]},
         "InvalidVolume.NotFound"),
        ("dry-run delete", bob.delete_volume, {"VolumeId": vol, "DryRun": True},
         "UnauthorizedOperation")]:
    got = error_code(call, **kwargs)
    want = (code, 403 if code == "UnauthorizedOperation" else 400)
    check(got == want, f"bob {name} alice's volume: {want} (got {got})")
v = alice.describe_volumes(VolumeIds=[vol])["Volumes"][0]
check(v["State"] == "available" and not v.get("Tags"), "alice's volume unchanged by bob")
check(alice.describe_snapshots()["Snapshots"] == [], "bob made no snapshot of it")

snap = alice.create_snapshot(VolumeId=vol, Description="mine")["SnapshotId"]
alice.get_waiter("snapshot_completed").wait(SnapshotIds=[snap], WaiterConfig={"Delay": 1})
check(bob.describe_snapshots()["Snapshots"] == [], "bob's snapshot list is empty")
for name, call, kwargs in [
        ("describe", bob.describe_snapshots, {"SnapshotIds": [snap]}),
        ("delete", bob.delete_snapshot, {"SnapshotId": snap}),
        ("copy", bob.copy_snapshot, {"SourceSnapshotId": snap, "SourceRegion": REGION}),
        ("restore", bob.create_volume, {"SnapshotId": snap, "AvailabilityZone": "default"}),
        ("tag", bob.create_tags, {"Resources": [snap], "Tags": [{"Key": "x", "Value": "y"}]})]:
    got = error_code(call, **kwargs)
    check(got == ("InvalidSnapshot.NotFound", 400),
          f"bob {name} alice's snapshot: InvalidSnapshot.NotFound 400 (got {got})")
check(bob.describe_volumes()["Volumes"] == [], "bob restored nothing")
check([x["SnapshotId"] for x in alice.describe_snapshots(OwnerIds=["self"])["Snapshots"]]
      == [snap], "alice's snapshot is hers, untouched")
alice.delete_snapshot(SnapshotId=snap)

# --- paginators ----------------------------------------------------------------------------
for i in range(6):
    alice.create_volume(Size=1, AvailabilityZone="default",
                        TagSpecifications=[{"ResourceType": "volume",
                                            "Tags": [{"Key": "page", "Value": str(i)}]}])
pages = list(alice.get_paginator("describe_volumes").paginate(
    Filters=[{"Name": "tag-key", "Values": ["page"]}], PaginationConfig={"PageSize": 5}))
check([len(p["Volumes"]) for p in pages] == [5, 1], "paginator: pages of 5 and 1")
first = alice.describe_volumes(MaxResults=5)
token = first["NextToken"]
check(error_code(alice.describe_volumes, MaxResults=5, NextToken=token[:-1] + "0"
                 if token[-1] != "0" else token[:-1] + "1") == ("InvalidNextToken", 400),
      "a tampered token: InvalidNextToken")
check(error_code(bob.describe_volumes, MaxResults=5, NextToken=token) == ("InvalidNextToken", 400),
      "alice's token used by bob: InvalidNextToken")
check(error_code(alice.describe_volumes, MaxResults=5, NextToken=token,
                 Filters=[{"Name": "status", "Values": ["available"]}])
      == ("InvalidNextToken", 400), "a token for another query: InvalidNextToken")
check(error_code(alice.describe_volumes, MaxResults=5, VolumeIds=[vol])
      == ("InvalidParameterCombination", 400), "MaxResults with VolumeIds")
check(error_code(alice.describe_volumes, MaxResults=2) == ("InvalidParameterValue", 400),
      "MaxResults below 5")

# --- volume types, IOPS and throughput (core/volume_types.h) -------------------------------
made = volume_ids(alice)
q = alice.create_volume(Size=10, AvailabilityZone="default", VolumeType="gp3", Iops=4000,
                        Throughput=250)
check((q["VolumeType"], q.get("Iops"), q.get("Throughput")) == ("gp3", 4000, 250),
      f"create gp3 answers its limits (got {q['VolumeType']} {q.get('Iops')} "
      f"{q.get('Throughput')})")
qv = q["VolumeId"]
alice.get_waiter("volume_available").wait(VolumeIds=[qv], WaiterConfig={"Delay": 1})
d = alice.describe_volumes(VolumeIds=[qv])["Volumes"][0]
check((d["VolumeType"], d.get("Iops"), d.get("Throughput")) == ("gp3", 4000, 250),
      "describe_volumes reads gp3 / 4000 IOPS / 250 MiB/s back")
check([x["VolumeId"] for x in alice.describe_volumes(
    Filters=[{"Name": "volume-type", "Values": ["gp3"]}])["Volumes"]] == [qv],
      "volume-type filter")
plain = alice.describe_volumes(VolumeIds=[vol])["Volumes"][0]
check(plain["VolumeType"] == "standard" and "Iops" not in plain and "Throughput" not in plain,
      "a standard volume has no Iops or Throughput")
made.append(qv)
for name, kwargs, code in [
        ("io2 with more IOPS than 500 per GiB", dict(VolumeType="io2", Iops=1000),
         "InvalidParameterValue"),
        ("io2 without Iops", dict(VolumeType="io2"), "InvalidParameterCombination"),
        ("Iops on standard", dict(VolumeType="standard", Iops=100),
         "InvalidParameterCombination"),
        ("Throughput on the default type", dict(Throughput=100), "InvalidParameterCombination"),
        ("gp3 above its maximum IOPS", dict(VolumeType="gp3", Iops=16001),
         "InvalidParameterValue"),
        ("negative Iops", dict(VolumeType="gp3", Iops=-5), "InvalidParameterValue"),
        ("unknown type", dict(VolumeType="sc1"), "InvalidParameterValue")]:
    got = error_code(alice.create_volume, Size=1, AvailabilityZone="default", **kwargs)
    check(got == (code, 400), f"create {name}: {code} (got {got})")
check(volume_ids(alice) == sorted(made), "refused creates made no volume")

m = alice.modify_volume(VolumeId=qv, Iops=5000)["VolumeModification"]
check((m["OriginalIops"], m["TargetIops"], m["OriginalThroughput"], m["TargetThroughput"],
       m["OriginalVolumeType"], m["TargetVolumeType"]) == (4000, 5000, 250, 250, "gp3", "gp3"),
      f"modify_volume Iops=5000: both sides in the answer (got {m})")
deadline, mods = time.time() + 60, []
while time.time() < deadline:
    mods = alice.describe_volumes_modifications(VolumeIds=[qv])["VolumesModifications"]
    if mods and mods[-1]["ModificationState"] in ("completed", "failed"):
        break
    time.sleep(0.2)
check(len(mods) == 1 and mods[0]["ModificationState"] == "completed"
      and (mods[0]["OriginalIops"], mods[0]["TargetIops"]) == (4000, 5000)
      and mods[0]["Progress"] == 100,
      f"describe_volumes_modifications: 4000 -> 5000, completed (got {mods})")
check(alice.describe_volumes(VolumeIds=[qv])["Volumes"][0]["Iops"] == 5000,
      "describe_volumes shows the new IOPS")
filtered = alice.describe_volumes_modifications(
    Filters=[{"Name": "target-iops", "Values": ["5000"]},
             {"Name": "original-volume-type", "Values": ["gp3"]}])["VolumesModifications"]
check([x["VolumeId"] for x in filtered] == [qv], "target-iops / original-volume-type filters")
for name, kwargs, code in [
        ("with nothing to change", {}, "MissingParameter"),
        ("to the same limits", dict(Iops=5000), "InvalidParameterValue"),
        ("to io2 without Iops", dict(VolumeType="io2"), "InvalidParameterCombination"),
        ("with a negative Throughput", dict(Throughput=-1), "InvalidParameterValue")]:
    got = error_code(alice.modify_volume, VolumeId=qv, **kwargs)
    check(got == (code, 400), f"modify {name}: {code} (got {got})")
check(len(alice.describe_volumes_modifications(VolumeIds=[qv])["VolumesModifications"]) == 1,
      "refused modifications started none")

# --- bad input as raw signed requests: code, status, and nothing changed -------------------
before = volume_ids(alice)
akid, secret = keys("alice")
now = datetime.datetime.utcnow()
describe = "Action=DescribeVolumes&Version=2016-11-15"
cases = [
    ("no signature", dict(body=describe, sign=False), 401, "MissingAuthenticationToken"),
    ("wrong secret", dict(body=describe, akid=akid, secret="x" * 40), 401,
     "AuthFailure"),
    ("expired date", dict(body=describe, when=now - datetime.timedelta(minutes=20)), 400,
     "RequestExpired"),
    ("date in the future", dict(body=describe, when=now + datetime.timedelta(minutes=20)), 400,
     "RequestExpired"),
    ("unknown access key", dict(body=describe, akid="AKIAUNKNOWNUNKNOWN00", secret=secret), 401,
     "AuthFailure"),
    ("unknown Action", dict(body="Action=DescribeVolumez&Version=2016-11-15"), 400,
     "InvalidAction"),
    ("missing Action", dict(body="Version=2016-11-15"), 400, "MissingAction"),
    ("missing parameter", dict(body="Action=CreateVolume&Version=2016-11-15&AvailabilityZone="
                                    "default"), 400, "MissingParameter"),
    ("missing VolumeId", dict(body="Action=DeleteVolume&Version=2016-11-15"), 400,
     "MissingParameter"),
    ("malformed size", dict(body="Action=CreateVolume&Version=2016-11-15&Size=ten"), 400,
     "InvalidParameterValue"),
    ("size out of range", dict(body="Action=CreateVolume&Version=2016-11-15&Size=0"), 400,
     "InvalidParameterValue"),
    ("unknown zone", dict(body="Action=CreateVolume&Version=2016-11-15&Size=1&AvailabilityZone="
                               "nowhere"), 400, "InvalidZone.NotFound"),
    ("unknown volume type", dict(body="Action=CreateVolume&Version=2016-11-15&Size=1"
                                      "&VolumeType=ssd"), 400, "InvalidParameterValue"),
    ("malformed volume id", dict(body=describe + "&VolumeId.1=vol-123"), 400,
     "InvalidVolumeID.Malformed"),
    ("missing volume", dict(body=describe + "&VolumeId.1=vol-00000000000000000"), 400,
     "InvalidVolume.NotFound"),
    ("malformed snapshot id", dict(body="Action=DeleteSnapshot&Version=2016-11-15&SnapshotId="
                                        "snap-xyz"), 400, "InvalidSnapshotID.Malformed"),
    ("malformed instance id", dict(body=f"Action=AttachVolume&Version=2016-11-15&VolumeId={vol}"
                                        "&InstanceId=i-12&Device=%2Fdev%2Fvdb"), 400,
     "InvalidInstanceID.Malformed"),
    ("missing instance", dict(body=f"Action=AttachVolume&Version=2016-11-15&VolumeId={vol}"
                                   "&InstanceId=i-00000000000000000&Device=%2Fdev%2Fvdb"), 400,
     "InvalidInstanceID.NotFound"),
    ("unknown filter", dict(body=describe + "&Filter.1.Name=colour&Filter.1.Value.1=red"), 400,
     "InvalidParameterValue"),
    ("bad token", dict(body=describe + "&MaxResults=5&NextToken=abc"), 400, "InvalidNextToken"),
    ("bad tag resource", dict(body="Action=CreateTags&Version=2016-11-15&ResourceId.1=ami-1"
                                   "&Tag.1.Key=a&Tag.1.Value=b"), 400, "InvalidID"),
    ("reserved tag key", dict(body=f"Action=CreateTags&Version=2016-11-15&ResourceId.1={vol}"
                                   "&Tag.1.Key=vbs%3Ax&Tag.1.Value=b"), 400,
     "InvalidParameterValue"),
    ("modify with nothing", dict(body=f"Action=ModifyVolume&Version=2016-11-15&VolumeId={vol}"),
     400, "MissingParameter"),
    ("modify to the same size", dict(body=f"Action=ModifyVolume&Version=2016-11-15&VolumeId={vol}"
                                          "&Size=1"), 400, "InvalidParameterValue"),
    ("modify a standard volume with iops", dict(body=f"Action=ModifyVolume&Version=2016-11-15&VolumeId={vol}"
                                   "&Size=2&Iops=3000"), 400, "InvalidParameterCombination"),
    ("modify with malformed iops", dict(body=f"Action=ModifyVolume&Version=2016-11-15"
                                             f"&VolumeId={vol}&Iops=many"), 400,
     "InvalidParameterValue"),
    ("malformed iops", dict(body="Action=CreateVolume&Version=2016-11-15&Size=1&VolumeType=gp3"
                                 "&Iops=4k"), 400, "InvalidParameterValue"),
    ("negative throughput", dict(body="Action=CreateVolume&Version=2016-11-15&Size=1"
                                      "&VolumeType=gp3&Throughput=-250"), 400,
     "InvalidParameterValue"),
    ("io2 iops on a small volume", dict(body="Action=CreateVolume&Version=2016-11-15&Size=1"
                                             "&VolumeType=io2&Iops=1000"), 400,
     "InvalidParameterValue"),
    ("iops on standard", dict(body="Action=CreateVolume&Version=2016-11-15&Size=1"
                                   "&VolumeType=standard&Iops=100"), 400,
     "InvalidParameterCombination"),
    ("dry run", dict(body="Action=CreateVolume&Version=2016-11-15&Size=1&DryRun=true"), 412,
     "DryRunOperation"),
]
for name, kwargs, status, code in cases:
    got_status, got_code, text = raw(**kwargs)
    check((got_status, got_code) == (status, code),
          f"{name}: {status} {code} (got {got_status} {got_code})")
    check(b"<RequestID>" in text, f"{name}: the error names its RequestID")
check(volume_ids(alice) == before, "bad input changed nothing")
check(not alice.describe_volumes(VolumeIds=[vol])["Volumes"][0].get("Tags"), "no tags added")
check(alice.describe_volumes_modifications(VolumeIds=[vol])["VolumesModifications"] == [],
      "no resize started")
check(alice.describe_volumes(VolumeIds=[vol])["Volumes"][0]["Size"] == 1, "size unchanged")

# GET /?Action=… signed in the header, and the presigned query form (what CopySnapshot's
# PresignedUrl uses): both are EC2 requests too.
status, code, text = raw(None, method="GET", query={"Action": "DescribeVolumes",
                                                    "Version": "2016-11-15"})
check(status == 200 and vol.encode() in text, f"GET /?Action= (got {status} {code})")
presign = AWSRequest(method="GET", url=ENDPOINT + "/", params={
    "Action": "DescribeVolumes", "Version": "2016-11-15", "VolumeId.1": vol})
SigV4QueryAuth(Credentials(akid, secret), "ec2", REGION, expires=60).add_auth(presign)
with urllib.request.urlopen(presign.prepare().url,
                            context=ssl.create_default_context(cafile=CA)) as resp:
    check(resp.status == 200 and vol.encode() in resp.read(), "presigned GET")


# A signature binds the whole request (issue 13): a presigned DescribeVolumes URL POSTed with
# a form body that deletes a volume, and a signed x-amz-content-sha256 of a harmless body sent
# with another body, are both refused, and the volume is still there.
def send(url, data, headers):
    r = urllib.request.Request(url, data=data, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(r, context=ssl.create_default_context(cafile=CA)) as resp:
            return resp.status, None
    except urllib.error.HTTPError as e:
        return e.code, ET.fromstring(e.read()).findtext("Errors/Error/Code")


form = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
delete_body = f"Action=DeleteVolume&Version=2016-11-15&VolumeId={vol}".encode()
presigned = alice.generate_presigned_url("describe_volumes", ExpiresIn=60)
check(send(presigned, delete_body, form) == (401, "AuthFailure"),
      "a presigned URL POSTed with a body is refused")
harmless = "Action=DescribeVolumes&Version=2016-11-15"
req = AWSRequest(method="POST", url=ENDPOINT + "/", data=harmless, headers={
    **form, "X-Amz-Content-SHA256": hashlib.sha256(harmless.encode()).hexdigest()})
SigV4Auth(Credentials(akid, secret), "ec2", REGION).add_auth(req)
check(send(ENDPOINT + "/", delete_body, dict(req.prepare().headers)) == (401, "AuthFailure"),
      "a signed x-amz-content-sha256 of another body is refused")
req = AWSRequest(method="POST", url=ENDPOINT + "/", data=harmless, headers=form)
SigV4Auth(Credentials(akid, secret), "ec2", REGION).add_auth(req)
unsigned = dict(req.prepare().headers)
unsigned["X-Amz-Content-SHA256"] = hashlib.sha256(harmless.encode()).hexdigest()
check(send(ENDPOINT + "/", harmless.encode(), unsigned) == (401, "AuthFailure"),
      "an unsigned x-amz-content-sha256 is refused")
check([v["State"] for v in alice.describe_volumes(VolumeIds=[vol])["Volumes"]] == ["available"],
      "the volume is still there")

# Clean up, as a user would.
for v in alice.describe_volumes()["Volumes"]:
    wait_state(alice, v["VolumeId"], "available")
    alice.delete_volume(VolumeId=v["VolumeId"])

print(f"{failures} failed" if failures else "all boto3 checks passed")
sys.exit(1 if failures else 0)
