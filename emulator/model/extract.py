#!/usr/bin/env python3
"""Extracts the input constraints of the operations orgs-emulator implements from AWS's
Organizations service model (botocore's service-2.json), into organizations.json.

    python3 emulator/model/extract.py path/to/botocore/data/organizations/2016-11-28/service-2.json <botocore-commit>

Kept per shape: type, required members, members (in the model's order), list member, min,
max, pattern and enum: what AWS checks before it runs an operation. Also kept: the values of
the `Reason` enums of the exceptions listed in ERROR_REASONS, under "errorReasons".
"""
import json
import sys

OPERATIONS = [
    "AcceptHandshake", "CancelHandshake", "CreateOrganization", "DeclineHandshake",
    "DeleteOrganization", "DescribeAccount", "DescribeHandshake", "DescribeOrganization",
    "InviteAccountToOrganization", "LeaveOrganization", "ListAccounts",
    "ListHandshakesForAccount", "ListHandshakesForOrganization", "ListRoots",
    "ListTagsForResource", "RemoveAccountFromOrganization", "TagResource", "UntagResource",
    # Billing transfers (docs/billing-transfer.md).
    "InviteOrganizationToTransferResponsibility", "DescribeResponsibilityTransfer",
    "ListInboundResponsibilityTransfers", "ListOutboundResponsibilityTransfers",
    "UpdateResponsibilityTransfer", "TerminateResponsibilityTransfer",
]
KEEP = ("type", "required", "min", "max", "pattern", "enum")
# The `Reason` enums of the exceptions the operator classifies by reason (its tests read them
# from here, so a model update without a classification fails).
ERROR_REASONS = ["HandshakeConstraintViolationExceptionReason", "ConstraintViolationExceptionReason"]


def main(path, commit):
    model = json.load(open(path))
    shapes, ops = {}, {}

    def visit(name):
        if name in shapes:
            return
        src = model["shapes"][name]
        out = {k: src[k] for k in KEEP if k in src}
        shapes[name] = out
        if "members" in src:
            out["members"] = [[m, v["shape"]] for m, v in src["members"].items()]
            for _, v in src["members"].items():
                visit(v["shape"])
        if "member" in src:
            out["member"] = src["member"]["shape"]
            visit(src["member"]["shape"])

    for op in OPERATIONS:
        shape = model["operations"][op].get("input", {}).get("shape")
        ops[op] = shape
        if shape:
            visit(shape)
    doc = {
        "_source": f"boto/botocore@{commit} botocore/data/organizations/2016-11-28/service-2.json "
        "(input shapes of the implemented operations; see emulator/model/extract.py)",
        "operations": ops,
        "shapes": dict(sorted(shapes.items())),
        "errorReasons": {name: model["shapes"][name]["enum"] for name in ERROR_REASONS},
    }
    json.dump(doc, sys.stdout, indent=1, ensure_ascii=False)
    print()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
