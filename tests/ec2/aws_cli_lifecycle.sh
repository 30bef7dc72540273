#!/usr/bin/env bash
# The stock aws CLI (Debian's awscli 2.9.19) drives a volume's whole life on `vbsd dev` over
# HTTPS with the VBS CA bundle: zones → create with tags → wait volume-available → describe
# with filters and --page-size → snapshot → wait snapshot-completed → volume from the snapshot
# → modify-volume (grow) → copy-snapshot → attach to / detach from the node's host instance
# (and new IOPS while attached) → tags → delete → wait volume-deleted.
. "$(dirname "$0")/lib.sh"
ec2_init aws_cli_lifecycle
ec2_start
make_user alice
allow_on_node local alice   # host-local is for admins and allowed users
as_aws_user alice
[ "$(stat -c %a "$AWS_SHARED_CREDENTIALS_FILE")" = 600 ] || fail "the aws credentials file is not 0600"

# Zones are the pools: vbsd dev has one, "default".
aws_ok "zones" describe-availability-zones
assert_eq default "$(jo '.AvailabilityZones[0].ZoneName')" "zone name"
assert_eq available "$(jo '.AvailabilityZones[0].State')" "zone state"
assert_eq us-east-1 "$(jo '.AvailabilityZones[0].RegionName')" "region is the client's"

aws_ok "create" create-volume --size 1 --availability-zone default --volume-type gp3 \
  --iops 4000 --throughput 250 \
  --tag-specifications 'ResourceType=volume,Tags=[{Key=Name,Value=lifecycle},{Key=env,Value=test}]'
VOL=$(jo .VolumeId)
assert_match '^vol-[0-9a-f]{17}$' "$VOL" "volume id"
assert_eq creating "$(jo .State)" "state at create"
assert_eq 1 "$(jo .Size)" "size in GiB"
assert_eq "gp3 4000 250" "$(jo '"\(.VolumeType) \(.Iops) \(.Throughput)"')" "type and limits at create"
assert_eq lifecycle "$(jo '.Tags[] | select(.Key=="Name") | .Value')" "Name tag at create"
aws_ok "wait available" wait volume-available --volume-ids "$VOL"
# The same volume through the native API: one set of rules behind both faces.
make_user bob
as_user alice
api GET "/v1/volumes/$VOL"
assert_status 200 "REST sees the EC2-made volume"
assert_field .owner alice "owner is the access key's user"
assert_field .size 1073741824 "size in bytes"
assert_field .state available "REST state"
assert_field .volume_type gp3 "REST volume type"
assert_field .iops 4000 "REST iops"

# Six more for pagination: the CLI follows nextToken by itself with --page-size.
for i in 1 2 3 4 5 6; do
  aws_ok "batch create $i" create-volume --size 1 --availability-zone default \
    --tag-specifications "ResourceType=volume,Tags=[{Key=batch,Value=b$i}]"
  BATCH+=("$(jo .VolumeId)")
done
aws_ok "paged describe" describe-volumes --filters Name=tag-key,Values=batch --page-size 5
assert_eq 6 "$(jo '.Volumes | length')" "all 6 across two pages of 5"
aws_ok "first page" describe-volumes --filters Name=tag-key,Values=batch --page-size 5 --max-items 5
assert_eq 5 "$(jo '.Volumes | length')" "a page of 5"
assert_ne null "$(jo .NextToken)" "a next token after the first page"
aws_ok "filters AND across names, OR across values, wildcards" describe-volumes \
  --filters Name=status,Values=available,in-use Name=tag:Name,Values='life*'
assert_eq "$VOL" "$(jo '[.Volumes[].VolumeId] | join(",")')" "tag:Name wildcard + status"
aws_ok "no match" describe-volumes --filters Name=tag:Name,Values=lifecycle Name=status,Values=in-use
assert_eq 0 "$(jo '.Volumes | length')" "AND across filters"
aws_ok "by id" describe-volumes --volume-ids "$VOL" "${BATCH[0]}"
assert_eq 2 "$(jo '.Volumes | length')" "two by id"

aws_ok "snapshot" create-snapshot --volume-id "$VOL" --description nightly \
  --tag-specifications 'ResourceType=snapshot,Tags=[{Key=k,Value=v}]'
SNAP=$(jo .SnapshotId)
assert_match '^snap-[0-9a-f]{17}$' "$SNAP" "snapshot id"
assert_eq pending "$(jo .State)" "snapshot state at create"
assert_eq alice "$(jo .OwnerId)" "snapshot owner"
aws_ok "wait snapshot" wait snapshot-completed --snapshot-ids "$SNAP"
aws_ok "describe snapshots" describe-snapshots --owner-ids self --filters Name=status,Values=completed
assert_eq "$SNAP" "$(jo '.Snapshots[0].SnapshotId')" "completed snapshot listed"
assert_eq "100%" "$(jo '.Snapshots[0].Progress')" "progress"
assert_eq nightly "$(jo '.Snapshots[0].Description')" "description"

# A copy (same site: the CLI's PresignedUrl names this endpoint and is not needed).
aws_ok "copy snapshot" copy-snapshot --source-region us-east-1 --source-snapshot-id "$SNAP" \
  --description copy
COPY=$(jo .SnapshotId)
assert_match '^snap-[0-9a-f]{17}$' "$COPY" "copy id"
aws_ok "wait copy" wait snapshot-completed --snapshot-ids "$COPY"
assert_same "$(snap_file "$SNAP")" "$(snap_file "$COPY")" "the copy holds the source's bytes"
assert_no_file "$(vol_file "vol-${COPY#snap-}")" "the copy's scratch volume is removed"
aws_ok "copy described" describe-snapshots --snapshot-ids "$COPY"
assert_eq copy "$(jo '.Snapshots[0].Description')" "copy description"
assert_eq "$VOL" "$(jo '.Snapshots[0].VolumeId')" "copy keeps the source volume id"
aws_ok "delete copy" delete-snapshot --snapshot-id "$COPY"

aws_ok "volume from snapshot" create-volume --snapshot-id "$SNAP" --availability-zone default
VOL2=$(jo .VolumeId)
assert_eq "$SNAP" "$(jo .SnapshotId)" "source snapshot"
aws_ok "wait from-snapshot volume" wait volume-available --volume-ids "$VOL2"

# Grow it (online resize; the guest grows its file system itself).
aws_err InvalidParameterValue "shrink" modify-volume --volume-id "$VOL2" --size 1
aws_ok "modify" modify-volume --volume-id "$VOL2" --size 2
assert_eq 2 "$(jo .VolumeModification.TargetSize)" "target size"
assert_eq 1 "$(jo .VolumeModification.OriginalSize)" "original size"
assert_match '^(modifying|optimizing|completed)$' "$(jo .VolumeModification.ModificationState)" \
  "modification state at once"
deadline=$((SECONDS + WAIT_TIMEOUT))
while aws_ok "modifications" describe-volumes-modifications --volume-ids "$VOL2" &&
  [ "$(jo '.VolumesModifications[0].ModificationState')" != completed ]; do
  [ "$(jo '.VolumesModifications[0].ModificationState')" != failed ] || fail "resize failed: $OUT"
  [ $SECONDS -lt $deadline ] || fail "resize never completed: $OUT"
  sleep 0.5
done
assert_eq 100 "$(jo '.VolumesModifications[0].Progress')" "progress of a completed resize"
aws_ok "modification filters" describe-volumes-modifications \
  --filters Name=modification-state,Values=completed Name=target-size,Values=2
assert_eq "$VOL2" "$(jo '.VolumesModifications[0].VolumeId')" "filtered modification"
aws_ok "grown" describe-volumes --volume-ids "$VOL2"
assert_eq 2 "$(jo '.Volumes[0].Size')" "size after the resize"
assert_eq $((2 << 30)) "$(stat -c %s "$(vol_file "$VOL2")")" "the volume's file grew"

# Attach to the node itself (the host target: an NBD export on vbsd dev's socket).
aws_ok "instances" describe-instances
assert_contains host-local "$(jo '[.Reservations[].Instances[].InstanceId] | join(",")')" "host instance listed"
aws_ok "attach" attach-volume --volume-id "$VOL" --instance-id host-local --device /dev/vdb
assert_eq attaching "$(jo .State)" "attach state"
assert_eq /dev/vdb "$(jo .Device)" "device"
aws_ok "wait in-use" wait volume-in-use --volume-ids "$VOL"
deadline=$((SECONDS + WAIT_TIMEOUT))
while aws_ok "attachment state" describe-volumes --volume-ids "$VOL" &&
  [ "$(jo '.Volumes[0].Attachments[0].State')" != attached ]; do
  [ $SECONDS -lt $deadline ] || fail "attachment never reached attached: $OUT"
  sleep 0.5
done
aws_ok "attached filter" describe-volumes --filters Name=attachment.instance-id,Values=host-local
assert_eq "$VOL" "$(jo '.Volumes[0].VolumeId')" "attachment.instance-id filter"
aws_ok "instance block devices" describe-instances --instance-ids host-local
assert_eq "$VOL" "$(jo '.Reservations[0].Instances[0].BlockDeviceMappings[0].Ebs.VolumeId')" "mapping"
aws_ok "volume status" describe-volume-status --volume-ids "$VOL"
assert_eq ok "$(jo '.VolumeStatuses[0].VolumeStatus.Status')" "volume status"
assert_eq host-local "$(jo '.VolumeStatuses[0].AttachmentStatuses[0].InstanceId')" "status attachment"
aws_err VolumeInUse "delete while attached" delete-volume --volume-id "$VOL"

# New limits online: the host serving the attached volume applies them (optimizing → completed).
aws_err MissingParameter "modify nothing" modify-volume --volume-id "$VOL"
aws_err InvalidParameterValue "modify above gp3's maximum" modify-volume --volume-id "$VOL" \
  --iops 16001
aws_ok "modify iops" modify-volume --volume-id "$VOL" --iops 5000
assert_eq "4000 5000" "$(jo '"\(.VolumeModification.OriginalIops) \(.VolumeModification.TargetIops)"')" \
  "original and target iops"
assert_match '^(optimizing|completed)$' "$(jo .VolumeModification.ModificationState)" \
  "an IOPS change of an attached volume"
deadline=$((SECONDS + WAIT_TIMEOUT))
while aws_ok "iops modification" describe-volumes-modifications --volume-ids "$VOL" &&
  [ "$(jo '.VolumesModifications[-1].ModificationState')" != completed ]; do
  [ "$(jo '.VolumesModifications[-1].ModificationState')" != failed ] || fail "iops change failed: $OUT"
  [ $SECONDS -lt $deadline ] || fail "iops change never completed: $OUT"
  sleep 0.5
done
assert_eq "4000 5000 250" "$(jo '.VolumesModifications[-1] | "\(.OriginalIops) \(.TargetIops) \(.TargetThroughput)"')" \
  "the completed modification"
aws_ok "new limits" describe-volumes --volume-ids "$VOL"
assert_eq "5000 250" "$(jo '.Volumes[0] | "\(.Iops) \(.Throughput)"')" "iops and throughput after"

aws_ok "tags" create-tags --resources "$VOL" "$SNAP" --tags Key=team,Value=db Key=empty,Value=
aws_ok "describe tags" describe-tags --filters Name=key,Values=team
assert_eq "$SNAP,$VOL" "$(jo '[.Tags[].ResourceId] | sort | join(",")')" "team tag on both"
aws_ok "delete tags" delete-tags --resources "$VOL" --tags Key=team Key=empty,Value=nope
aws_ok "after delete-tags" describe-tags --filters Name=resource-id,Values="$VOL"
assert_eq "Name,empty,env" "$(jo '[.Tags[].Key] | sort | join(",")')" "team gone, empty kept (value differs)"

aws_ok "detach" detach-volume --volume-id "$VOL"
assert_eq detaching "$(jo .State)" "detach state"
aws_ok "wait available after detach" wait volume-available --volume-ids "$VOL"

# DryRun: checked, not done.
aws_err DryRunOperation "dry-run create" create-volume --size 1 --availability-zone default --dry-run
aws_err DryRunOperation "dry-run delete" delete-volume --volume-id "$VOL" --dry-run
aws_ok "still there" describe-volumes --volume-ids "$VOL"

aws_ok "delete snapshot" delete-snapshot --snapshot-id "$SNAP"
for v in "$VOL" "$VOL2" "${BATCH[@]}"; do aws_ok "delete $v" delete-volume --volume-id "$v"; done
aws_ok "wait deleted" wait volume-deleted --volume-ids "$VOL" "$VOL2" "${BATCH[@]}"
aws_err InvalidVolume.NotFound "gone" describe-volumes --volume-ids "$VOL"
aws_ok "none left" describe-volumes
assert_eq 0 "$(jo '.Volumes | length')" "no volumes left"
